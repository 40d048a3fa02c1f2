/**
 * The profiles table on DynamoDB Local, metered as DynamoDB bills it, for the site-day pass
 * (bench/site-day-pass.ts): a `requestHandler` for the worker's clients that sends every request
 * for the stage's profile tables to DynamoDB Local, and everything else to `FakeAws`. The profile
 * tables are the `profiles` table and any table infra/ declares beyond the ones the bench answers in
 * process (`IN_PROCESS_TABLES`), so a profile design that adds a table is metered without a change here.
 *
 * Why DynamoDB Local and not a stateful fake: the profile code reads what it wrote (a user's second
 * event must find the first one's profile), and its design changes (PartiQL statements today,
 * perhaps UpdateItem and Query tomorrow); DynamoDB Local runs every operation, condition and
 * expression as DynamoDB does, whatever the code calls. Why not DynamoDB Local's own
 * ConsumedCapacity: checked on 2026-12-07, it reports none for BatchExecuteStatement (today's
 * profile writes), none for a write whose condition fails, and nothing for a missing key of
 * BatchGetItem or an empty Query, all of which DynamoDB bills. So the meter bills each request
 * itself, by DynamoDB's rules, from the items as they were before and after it:
 * - a write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, and PartiQL INSERT, UPDATE, DELETE)
 *   costs 1 write unit per KB of the larger of the item's old and new size, at least 1, whether it
 *   succeeds or its condition fails; in a transaction (TransactWriteItems, ExecuteTransaction) twice that;
 * - a read of a key (GetItem, BatchGetItem, PartiQL SELECT by key) costs 1 read unit per 4 KB of the
 *   item, at least 1 for a missing one, halved when eventually consistent;
 * - a Query or Scan costs what DynamoDB Local reports (sizes of the items read, per 4 KB), at least
 *   half a unit.
 * Requests for the profile tables are serialised, so each one's before and after are its own.
 */
import { resourceName, TABLE_NAMES, TABLES, type TableName } from '../infra';
import { EVENT_TYPES } from '../lib/spec/event-types';
import { dynamoItemBytes, type AttributeValue, type FakeAws } from './fake-aws';

interface SdkRequest {
  headers: Record<string, string>;
  body?: unknown;
}
type Item = Record<string, AttributeValue>;
type Json = Record<string, unknown>;

/** The stage's tables the bench answers in process (`FakeAws`): the event tables and the service's own. */
export const IN_PROCESS_TABLES: readonly string[] = [...EVENT_TYPES, 'rejected', 'sources', 'keys', 'erasures', 'schemas'];

/** The stage's profile tables, physical name to key attribute names. */
export function profileTables(stage: string): Map<string, string[]> {
  return new Map(
    TABLE_NAMES.filter((name) => !IN_PROCESS_TABLES.includes(name)).map((name: TableName) => [
      resourceName(stage, name),
      [TABLES[name].partitionKey, TABLES[name].sortKey].filter((n): n is string => typeof n === 'string'),
    ]),
  );
}

export interface ProfileMeter {
  writeUnits: number;
  readUnits: number;
  /** Requests for the profiles table, by operation. */
  requests: Record<string, number>;
  /** Write and read units by item kind (`itemKind`): where the units go. */
  byItem: Record<string, { writeUnits: number; readUnits: number }>;
}

/**
 * An item's kind for the breakdown: the kind in its partition key (`user`, `anon`, `group`,
 * `members`, `anon-users`) and, in a profile's partition, its sort key's prefix (`core`, `t`, `a`,
 * `al`, `at`, `g`, `profile`).
 */
export function itemKind(key: Item): string {
  const text = (value: AttributeValue | undefined) => (value && 'S' in value ? String(value.S) : '');
  const pk = text(key.pk);
  const sk = text(key.sk);
  const kind = pk.split('#')[1] ?? '?';
  if (kind === 'members' || kind === 'anon-users') return kind;
  const at = sk.search(/[#~]/);
  return `${kind} ${at < 0 ? sk : sk.slice(0, at)}`;
}

const WRITE_UNIT = 1024;
const READ_UNIT = 4096;

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error('the profile meter expects a string or byte body');
}

const keyOf = (item: Item, names: readonly string[]): Item => Object.fromEntries(names.map((name) => [name, item[name] as AttributeValue]));
const keyText = (table: string, key: Item) =>
  JSON.stringify([
    table,
    ...Object.keys(key)
      .sort()
      .map((name) => key[name]),
  ]);

/** Tables a request names (TableName, RequestItems, TransactItems, PartiQL statements). */
function tablesOf(body: Json): string[] {
  const tables: string[] = [];
  if (typeof body.TableName === 'string') tables.push(body.TableName);
  if (body.RequestItems && typeof body.RequestItems === 'object') tables.push(...Object.keys(body.RequestItems));
  for (const item of (body.TransactItems as Json[] | undefined) ?? [])
    for (const part of Object.values(item))
      if (typeof (part as Json).TableName === 'string') tables.push((part as Json).TableName as string);
  const statements = [
    ...(typeof body.Statement === 'string' ? [body.Statement] : []),
    ...((body.Statements as Json[] | undefined) ?? []).map((s) => s.Statement as string),
    ...((body.TransactStatements as Json[] | undefined) ?? []).map((s) => s.Statement as string),
  ];
  for (const statement of statements) {
    const table = statementTable(statement);
    if (table) tables.push(table);
  }
  return tables;
}

const statementTable = (statement: string) =>
  /(?:FROM|INTO|UPDATE)\s+"([^"]+)"/i.exec(statement)?.[1] ?? /(?:FROM|INTO|UPDATE)\s+([\w.-]+)/i.exec(statement)?.[1];

/** The key (attributes `names`) a PartiQL statement names, from its parameters or literals; undefined when it names none. */
export function statementKey(
  statement: string,
  parameters: readonly AttributeValue[] = [],
  names: readonly string[] = ['pk', 'sk'],
): Item | undefined {
  const key: Item = {};
  for (const name of names) {
    const pattern = new RegExp(`(?:'${name}'\\s*:|"?\\b${name}\\b"?\\s*=)\\s*(\\?|'((?:[^']|'')*)')`, 'i');
    const match = pattern.exec(statement);
    if (!match) return undefined;
    if (match[1] === '?') {
      const ordinal = (statement.slice(0, match.index + match[0].length).match(/\?/g) ?? []).length - 1;
      const value = parameters[ordinal];
      if (!value) return undefined;
      key[name] = value;
    } else key[name] = { S: (match[2] ?? '').replace(/''/g, "'") };
  }
  return key;
}

interface Touch {
  table: string;
  key: Item;
  kind: 'write' | 'read';
  /** 2 in a transaction. */
  factor: number;
  consistent: boolean;
}

function statementTouches(tables: Map<string, string[]>, statements: ReadonlyArray<Json>, factor: number, consistent: boolean): Touch[] {
  return statements.flatMap((s) => {
    const text = String(s.Statement);
    const table = statementTable(text) ?? '';
    const key = statementKey(text, (s.Parameters as AttributeValue[] | undefined) ?? [], tables.get(table) ?? []);
    if (!key) return [];
    const kind: Touch['kind'] = /^\s*SELECT/i.test(text) ? 'read' : 'write';
    return [{ table, key, kind, factor, consistent: kind === 'write' || consistent || s.ConsistentRead === true }];
  });
}

/** The keys a request reads or writes, and how DynamoDB bills each; Query and Scan are billed apart. */
function touches(operation: string, body: Json, tables: Map<string, string[]>): Touch[] {
  const names = (table: string) => tables.get(table) ?? [];
  const write = (table: string, item: Item, factor = 1): Touch => ({
    table,
    key: keyOf(item, names(table)),
    kind: 'write',
    factor,
    consistent: true,
  });
  const read = (table: string, item: Item, factor: number, consistent: boolean): Touch => ({
    table,
    key: keyOf(item, names(table)),
    kind: 'read',
    factor,
    consistent,
  });
  const table = String(body.TableName ?? '');
  switch (operation) {
    case 'PutItem':
      return [write(table, body.Item as Item)];
    case 'UpdateItem':
    case 'DeleteItem':
      return [write(table, body.Key as Item)];
    case 'GetItem':
      return [read(table, body.Key as Item, 1, body.ConsistentRead === true)];
    case 'BatchWriteItem':
      return Object.entries(body.RequestItems as Record<string, Json[]>).flatMap(([name, requests]) =>
        requests.map((r) => write(name, ((r.PutRequest as Json | undefined)?.Item ?? (r.DeleteRequest as Json).Key) as Item)),
      );
    case 'BatchGetItem':
      return Object.entries(body.RequestItems as Record<string, Json>).flatMap(([name, request]) =>
        ((request.Keys as Item[] | undefined) ?? []).map((key) => read(name, key, 1, request.ConsistentRead === true)),
      );
    case 'TransactWriteItems':
      return (body.TransactItems as Json[]).map((item) => {
        const part = Object.values(item)[0] as Json;
        return write(String(part.TableName), (part.Item ?? part.Key) as Item, 2);
      });
    case 'TransactGetItems':
      return (body.TransactItems as Json[]).map((item) =>
        read(String((item.Get as Json).TableName), (item.Get as Json).Key as Item, 2, true),
      );
    case 'ExecuteStatement':
      return statementTouches(tables, [body], 1, body.ConsistentRead === true);
    case 'BatchExecuteStatement':
      return statementTouches(tables, body.Statements as Json[], 1, false);
    case 'ExecuteTransaction':
      return statementTouches(tables, body.TransactStatements as Json[], 2, true);
    default:
      return [];
  }
}

/** A `requestHandler` that keeps the profile tables (`profileTables`) on DynamoDB Local and meters them; the rest goes to `fake`. */
export class ProfileRouter {
  meter: ProfileMeter = { writeUnits: 0, readUnits: 0, requests: {}, byItem: {} };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly fake: FakeAws,
    private readonly endpoint: string,
    private readonly tables: Map<string, string[]>,
  ) {}

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}

  takeMeter(): ProfileMeter {
    const taken = this.meter;
    this.meter = { writeUnits: 0, readUnits: 0, requests: {}, byItem: {} };
    return taken;
  }

  handle(request: SdkRequest): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }> {
    const target = request.headers['x-amz-target'] ?? '';
    if (!target.startsWith('DynamoDB_')) return this.fake.handle(request);
    const text = bodyText(request.body);
    const body = JSON.parse(text) as Json;
    const tables = tablesOf(body);
    const metered = tables.filter((t) => this.tables.has(t));
    if (metered.length === 0) return this.fake.handle(request);
    if (metered.length < tables.length)
      throw new Error(`the profile meter cannot split one request across the profile tables and others: ${tables.join(', ')}`);
    const run = this.queue.then(() => this.metered(target.slice(target.indexOf('.') + 1), body, request.headers));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async metered(operation: string, body: Json, headers: Record<string, string>) {
    this.meter.requests[operation] = (this.meter.requests[operation] ?? 0) + 1;
    const touched = touches(operation, body, this.tables);
    const writes = touched.filter((t) => t.kind === 'write');
    const before = await this.sizes(writes);
    const scan = operation === 'Query' || operation === 'Scan';
    const forwarded = scan ? { ...body, ReturnConsumedCapacity: 'TOTAL' } : body;
    const response = await this.call(operation, forwarded, headers);
    const after = await this.sizes(writes);
    for (const t of writes) {
      const at = keyText(t.table, t.key);
      const largest = Math.max(before.get(at) ?? 0, after.get(at) ?? 0);
      this.count(t.key, 'writeUnits', Math.max(1, Math.ceil(largest / WRITE_UNIT)) * t.factor);
    }
    const reads = touched.filter((t) => t.kind === 'read');
    const readSizes = await this.readSizes(operation, body, response.body, reads);
    for (const t of reads) {
      const units = Math.max(1, Math.ceil((readSizes.get(keyText(t.table, t.key)) ?? 0) / READ_UNIT));
      this.count(t.key, 'readUnits', units * t.factor * (t.consistent ? 1 : 0.5));
    }
    if (scan && response.statusCode === 200) {
      const consumed = (JSON.parse(Buffer.from(response.body).toString('utf8')) as Json).ConsumedCapacity as Json | undefined;
      this.meter.readUnits += Math.max(body.ConsistentRead === true ? 1 : 0.5, Number(consumed?.CapacityUnits ?? 0));
    }
    return { response };
  }

  private count(key: Item, kind: 'writeUnits' | 'readUnits', units: number): void {
    this.meter[kind] += units;
    const entry = (this.meter.byItem[itemKind(key)] ??= { writeUnits: 0, readUnits: 0 });
    entry[kind] += units;
  }

  /** One request to DynamoDB Local, as the SDK wrote it (DynamoDB Local does not check signatures). */
  private async call(operation: string, body: Json, headers: Record<string, string>) {
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: {
        'content-type': headers['content-type'] ?? 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        authorization: headers.authorization ?? 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request',
        'x-amz-date': headers['x-amz-date'] ?? '20260101T000000Z',
      },
      body: JSON.stringify(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') out[name] = value;
    });
    return { statusCode: response.status, headers: out, body: bytes };
  }

  /** Sizes of the items a read returned, from its answer when it asked for whole items, else read again. */
  private async readSizes(operation: string, body: Json, answer: Uint8Array, reads: readonly Touch[]): Promise<Map<string, number>> {
    const requests = operation === 'BatchGetItem' ? Object.values(body.RequestItems as Record<string, Json>) : [body];
    const whole =
      (operation === 'BatchGetItem' || operation === 'GetItem') && requests.every((r) => !r.ProjectionExpression && !r.AttributesToGet);
    if (!whole) return this.sizes(reads);
    const parsed = JSON.parse(Buffer.from(answer).toString('utf8')) as Json;
    const items: Array<[string, Item]> =
      operation === 'GetItem'
        ? parsed.Item
          ? [[String(body.TableName), parsed.Item as Item]]
          : []
        : Object.entries((parsed.Responses as Record<string, Item[]> | undefined) ?? {}).flatMap(([table, list]) =>
            list.map((item): [string, Item] => [table, item]),
          );
    return new Map(items.map(([table, item]) => [keyText(table, keyOf(item, this.tables.get(table) ?? [])), dynamoItemBytes(item)]));
  }

  /** Sizes of the items `touched` as DynamoDB counts them (absent: missing), read strongly consistent, unmetered. */
  private async sizes(touched: readonly Touch[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const unique = [...new Map(touched.map((t) => [keyText(t.table, t.key), t])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, Json> = {};
      for (const t of unique.slice(i, i + 100)) ((pending[t.table] ??= { Keys: [], ConsistentRead: true }).Keys as Item[]).push(t.key);
      while (Object.keys(pending).length > 0) {
        const { body } = await this.call('BatchGetItem', { RequestItems: pending }, {});
        const answer = JSON.parse(Buffer.from(body).toString('utf8')) as Json;
        if (!answer.Responses) throw new Error(`DynamoDB Local refused the meter's read: ${Buffer.from(body).toString('utf8')}`);
        for (const [table, items] of Object.entries(answer.Responses as Record<string, Item[]>))
          for (const item of items) sizes.set(keyText(table, keyOf(item, this.tables.get(table) ?? [])), dynamoItemBytes(item));
        pending = (answer.UnprocessedKeys as Record<string, Json> | undefined) ?? {};
      }
    }
    return sizes;
  }
}
