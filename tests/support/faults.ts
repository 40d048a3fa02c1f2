/**
 * Faults the emulators cannot produce, forced on chosen commands of a real client. DynamoDB Local
 * never throttles, never leaves items unprocessed, cannot be paused mid-request or made to fail
 * one table; the SQS emulator never fails single entries of a batch. `withFault` wraps a real
 * client (a document client, a low-level DynamoDB client or an SQS client): a command that no
 * fault takes goes to the emulator untouched, and a fault that lets part of a command through
 * sends that part to the emulator for real, so what the test reads back is what was stored.
 *
 *   const stuck = leaveUnprocessed((items) => items.filter((i) => i.item.userId === 'stuck'));
 *   const worker = createWorker({ ...deps, documents: withFault(documents, stuck), writer: withFault(writer, stuck) });
 *
 * A fault keeps its own count of the calls it matched, so one fault given to two clients (the
 * worker's document client and its batch writer) counts and chooses calls across both.
 */
import * as DynamoDB from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as SQS from '@aws-sdk/client-sqs';
import type { SendMessageBatchRequestEntry, BatchResultErrorEntry } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/* eslint-disable @typescript-eslint/no-explicit-any -- commands and outputs of any operation pass through here */
type Command = { input: Record<string, any>; constructor: new (input: any) => Command; clientCommand?: { constructor: { name: string } } };
type Sender = { send(command: any, options?: any): Promise<any> };

/** One command on its way to the emulator. */
export interface Call {
  /** The API operation (`BatchWriteItem`, `Query`, `SendMessageBatch`): the same for a document client's command and its low-level twin. */
  operation: string;
  service: 'DynamoDB' | 'SQS';
  /** The input as the caller built it: plain values from a document client, wire form from a low-level one. */
  input: Record<string, any>;
  command: Command;
  /** True when the command came through a document client (its items are plain values). */
  document: boolean;
}

/** Which calls a fault takes. Every field given must hold. */
export interface Match {
  /** Operation name(s). */
  on?: string | readonly string[];
  /** A table the command names (`TableName` or a key of `RequestItems`). */
  table?: string;
  where?: (call: Call) => boolean;
  /** Of the calls matched so far, which get the fault: the first n, or those numbered (from 1). Default: every one. */
  calls?: number | readonly number[];
}

type Next = (replacement?: Command) => Promise<any>;

export interface Fault {
  /** Calls this fault matched so far, whether `calls` chose them or not. */
  readonly matched: number;
  /** Handles `call` (calling `next` to let all or part of it through), or returns `undefined` to leave it alone. */
  take(call: Call, next: Next): Promise<unknown> | undefined;
}

/** `real` with `faults` applied, in order, to the commands they match; everything else is the real client. */
export function withFault<C extends Sender>(real: C, ...faults: Fault[]): C {
  const service = real instanceof SQS.SQSClient ? 'SQS' : 'DynamoDB';
  const send = (command: Command, options?: unknown): Promise<unknown> => {
    const through = (from: number, current: Command): Promise<unknown> => {
      for (let i = from; i < faults.length; i++) {
        const taken = faults[i]?.take(describe(current, service), (replacement) => through(i + 1, replacement ?? current));
        if (taken) return taken;
      }
      return real.send(current, options);
    };
    return through(0, command);
  };
  return new Proxy(real, { get: (target, property) => (property === 'send' ? send : Reflect.get(target, property, target)) });
}

function describe(command: Command, service: Call['service']): Call {
  const named = command.clientCommand ?? command;
  return {
    operation: named.constructor.name.replace(/Command$/, ''),
    service,
    input: command.input,
    command,
    document: command.clientCommand !== undefined,
  };
}

function tablesOf(input: Record<string, any>): string[] {
  return [...(typeof input.TableName === 'string' ? [input.TableName] : []), ...Object.keys(input.RequestItems ?? {})];
}

/** A fault that runs `apply` on the calls `match` chooses; `apply` gets the call's number among those matched (from 1). */
function defineFault(match: Match, apply: (call: Call, next: Next, n: number) => Promise<unknown>): Fault {
  let matched = 0;
  const operations = match.on === undefined ? undefined : [match.on].flat();
  return {
    get matched() {
      return matched;
    },
    take(call, next) {
      if (operations && !operations.includes(call.operation)) return undefined;
      if (match.table !== undefined && !tablesOf(call.input).includes(match.table)) return undefined;
      if (match.where && !match.where(call)) return undefined;
      matched++;
      const chosen =
        match.calls === undefined || (typeof match.calls === 'number' ? matched <= match.calls : match.calls.includes(matched));
      return chosen ? apply(call, next, matched) : undefined;
    },
  };
}

/** The error the service's SDK throws for `name`: its modeled class when it has one, else a server fault of that name. */
export function serviceError(service: Call['service'], name: string): Error {
  const message = `${name} forced by the test`;
  const $metadata = { httpStatusCode: 500, requestId: 'forced-by-test' };
  const [module, Base] =
    service === 'SQS'
      ? [SQS as Record<string, unknown>, SQS.SQSServiceException]
      : [DynamoDB as Record<string, unknown>, DynamoDB.DynamoDBServiceException];
  const Modeled = module[name];
  if (typeof Modeled === 'function' && Modeled.prototype instanceof Base) {
    return new (Modeled as new (options: object) => Error)({ message, $metadata });
  }
  return new Base({ name, $fault: 'server', $metadata, message });
}

/** Throws the service's error `name` (e.g. `InternalServerError`) instead of sending the command. */
export function throwError(name: string, match: Match = {}): Fault {
  return defineFault(match, async (call) => {
    throw serviceError(call.service, name);
  });
}

/** Throttles: DynamoDB's ProvisionedThroughputExceededException, SQS's RequestThrottled. */
export function throttle(match: Match = {}): Fault {
  return defineFault(match, async (call) => {
    throw serviceError(call.service, call.service === 'SQS' ? 'RequestThrottled' : 'ProvisionedThroughputExceededException');
  });
}

/** An item of a BatchWriteItem, as plain values whichever client sent it (a delete's item is its key). */
export interface BatchItem {
  table: string;
  item: Record<string, unknown>;
}

/**
 * BatchWriteItem answers with the items `select` returns (from those it is given) in
 * `UnprocessedItems`, as DynamoDB does under load; the other items are written for real.
 */
export function leaveUnprocessed(select: (items: readonly BatchItem[], n: number) => readonly BatchItem[], match: Match = {}): Fault {
  return defineFault({ on: 'BatchWriteItem', ...match }, async (call, next, n) => {
    type Request = { PutRequest?: { Item?: Record<string, unknown> }; DeleteRequest?: { Key?: Record<string, unknown> } };
    const entries = Object.entries((call.input.RequestItems ?? {}) as Record<string, Request[]>).flatMap(([table, requests]) =>
      requests.map((request) => {
        const raw = request.PutRequest?.Item ?? request.DeleteRequest?.Key ?? {};
        const item = call.document ? raw : unmarshall(raw as Record<string, AttributeValue>);
        return { request, entry: { table, item } };
      }),
    );
    const held = new Set(
      select(
        entries.map((e) => e.entry),
        n,
      ),
    );
    const toWrite: Record<string, Request[]> = {};
    const unprocessed: Record<string, Request[]> = {};
    for (const { request, entry } of entries) ((held.has(entry) ? unprocessed : toWrite)[entry.table] ??= []).push(request);
    if (Object.keys(toWrite).length > 0) await next(new call.command.constructor({ ...call.input, RequestItems: toWrite }));
    return { UnprocessedItems: unprocessed, $metadata: {} };
  });
}

/**
 * SendMessageBatch reports the entries `select` returns in `Failed[]` (with a server-side code, as
 * SQS does when it cannot store an entry); the other entries are sent to the queue for real.
 */
export function failEntries(
  select: (entries: readonly SendMessageBatchRequestEntry[], n: number) => readonly SendMessageBatchRequestEntry[],
  match: Match = {},
): Fault {
  return defineFault({ on: 'SendMessageBatch', ...match }, async (call, next, n) => {
    const entries = (call.input.Entries ?? []) as SendMessageBatchRequestEntry[];
    const failed = new Set(select(entries, n));
    const sent = entries.filter((entry) => !failed.has(entry));
    const output = sent.length > 0 ? await next(new call.command.constructor({ ...call.input, Entries: sent })) : { Successful: [] };
    const forced: BatchResultErrorEntry[] = [...failed].map((entry) => ({
      Id: entry.Id,
      SenderFault: false,
      Code: 'InternalError',
      Message: 'forced by the test',
    }));
    return { ...output, Failed: [...(output.Failed ?? []), ...forced] };
  });
}

/**
 * Holds every matching call (default: BatchWriteItem) until `release()`; `reached` settles when
 * the first one arrives. Sent for real once released.
 */
export function hold(match: Match = {}): Fault & { release(): void; reached: Promise<void> } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrive!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const fault = defineFault({ on: 'BatchWriteItem', ...match }, async (_call, next) => {
    arrive();
    await released;
    return next();
  });
  return {
    get matched() {
      return fault.matched;
    },
    take: (call, next) => fault.take(call, next),
    release,
    reached,
  };
}

/** Calls `fn` with each matching call and its result once the emulator has answered; changes nothing. */
export function observe(fn: (call: Call, result: any) => void, match: Match = {}): Fault {
  return defineFault(match, async (call, next) => {
    const result = await next();
    fn(call, result);
    return result;
  });
}
