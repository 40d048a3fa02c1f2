/**
 * AWS answered in process: an SDK `requestHandler` that gives the real SQS and DynamoDB clients
 * canned, valid responses. Everything of ours and of the SDK (middleware, serialisation, SigV4
 * signing, response parsing, SQS MD5 checks) runs as in production; only the network is gone.
 *
 * The handler also observes every request: counts per operation, the SQS payloads (billed per
 * 64 KiB chunk) and, when `account` is on, the size of every DynamoDB item written (for write
 * units). Its own CPU time is measured so the bench can take it out of our figures.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** The subset of Smithy's HttpRequest this handler reads. */
interface SdkRequest {
  headers: Record<string, string>;
  body?: unknown;
}

export interface Observed {
  /** Requests per operation, e.g. `SQS.SendMessageBatch`, `DynamoDB.BatchWriteItem`. */
  requests: Record<string, number>;
  /** SQS message bodies sent, in order (kept when `keepMessages`). */
  messages: string[];
  /** Bytes of message bodies per SendMessageBatch request (for 64 KiB-chunk billing). */
  sendPayloads: number[];
  /** DynamoDB items written to the event and quarantine tables: sizes in bytes as DynamoDB counts them (when `account`). */
  itemBytes: number[];
  /** The same items without the attributes in `LEAN_OMITS`: what they would cost without them. */
  leanItemBytes: number[];
  /** Keys read by BatchGetItem from the erasures table (the worker's tombstone check): one read unit each, found or not. */
  readUnits: number;
  /** Profile items written (PutItem and BatchWriteItem to the `-profiles` table), sizes in bytes (when `account`). */
  profileItemBytes: number[];
  /** Read units of the profile reads: half a unit per key read eventually consistent (items under 4 KB), one strongly. */
  profileReadUnits: number;
  /** CPU time spent in this handler itself, ms. */
  overheadMs: number;
}

/**
 * `compute`: parse each SQS request and answer it (MD5s of its bodies). `record`: the same, keeping
 * each answer under the request's fingerprint. `replay`: give the recorded answer again without
 * parsing the request, for timed runs that repeat exactly what was recorded (deterministic request
 * ids and receive times); a request that was not recorded is an error.
 */
export type FakeMode = 'compute' | 'record' | 'replay';

export interface FakeAwsOptions {
  /** Parse DynamoDB writes and size every item (slower; for the accounting pass, not the timed one). */
  account?: boolean;
  /** Keep every SQS message body sent (to feed the worker bench). */
  keepMessages?: boolean;
  /** Answers for GetItem, by table name suffix (`-keys`, `-sources`). */
  items?: Record<string, Record<string, unknown>>;
}

/** The table the worker keeps profiles in (lib/worker/profiles/), counted apart from the events. */
const PROFILES_SUFFIX = '-profiles';

/** Attributes of ours that docs/spec.md does not ask for; the bench shows what items would cost without them. */
export const LEAN_OMITS = ['requestId', 'ingestedAt'] as const;

const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'bench-0000' };
const EMPTY_UNPROCESSED = new TextEncoder().encode('{"UnprocessedItems":{}}');
const EMPTY_OBJECT = new TextEncoder().encode('{}');

export function emptyObserved(): Observed {
  return {
    requests: {},
    messages: [],
    sendPayloads: [],
    itemBytes: [],
    leanItemBytes: [],
    readUnits: 0,
    profileItemBytes: [],
    profileReadUnits: 0,
    overheadMs: 0,
  };
}

/** A `requestHandler` for `new SQSClient({ requestHandler })` and `new DynamoDBClient({ requestHandler })`. */
export class FakeAws {
  observed: Observed = emptyObserved();
  mode: FakeMode = 'compute';
  private messageCounter = 0;
  /** Recorded SQS answers by request fingerprint (parallel sends may come in another order). */
  private recorded = new Map<string, Uint8Array>();

  /** Size every DynamoDB item written (see `FakeAwsOptions.account`); switch off for timed runs. */
  account: boolean;

  constructor(private readonly options: FakeAwsOptions = {}) {
    this.account = options.account ?? false;
  }

  reset(): Observed {
    const previous = this.observed;
    this.observed = emptyObserved();
    return previous;
  }

  /** Switches mode; `record` starts a new recording, `replay` starts from its first answer. */
  setMode(mode: FakeMode): void {
    this.mode = mode;
    if (mode === 'record') this.recorded = new Map();
  }

  // The client calls these to configure a real HTTP handler; there is nothing to configure here.
  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}

  handle(request: SdkRequest): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }> {
    const started = performance.now();
    const target = request.headers['x-amz-target'] ?? '';
    const operation = target.startsWith('AmazonSQS.') ? `SQS.${target.slice(10)}` : `DynamoDB.${target.slice(target.indexOf('.') + 1)}`;
    this.observed.requests[operation] = (this.observed.requests[operation] ?? 0) + 1;
    let answer: Uint8Array;
    if (this.mode === 'replay' && operation === 'SQS.SendMessageBatch') {
      const recorded = this.recorded.get(fingerprint(request.body));
      if (!recorded) throw new Error('the fake AWS was asked to replay a request it did not record');
      answer = recorded;
    } else if (this.mode === 'replay' && operation === 'DynamoDB.BatchWriteItem' && !this.account) {
      answer = EMPTY_UNPROCESSED;
    } else {
      answer = this.answer(operation, bodyText(request.body));
      if (this.mode === 'record' && operation === 'SQS.SendMessageBatch') {
        const key = fingerprint(request.body);
        const previous = this.recorded.get(key);
        if (previous && Buffer.compare(previous, answer) !== 0) throw new Error('two recorded SQS requests share a fingerprint');
        this.recorded.set(key, answer);
      }
    }
    this.observed.overheadMs += performance.now() - started;
    return Promise.resolve({ response: { statusCode: 200, headers: JSON_HEADERS, body: answer } });
  }

  private size(item: Record<string, AttributeValue>, table = ''): void {
    const bytes = dynamoItemBytes(item);
    if (table.endsWith(PROFILES_SUFFIX)) {
      this.observed.profileItemBytes.push(bytes);
      return;
    }
    this.observed.itemBytes.push(bytes);
    let lean = bytes;
    for (const name of LEAN_OMITS) {
      const value = item[name];
      if (value) lean -= Buffer.byteLength(name) + dynamoItemBytes({ '': value });
    }
    this.observed.leanItemBytes.push(lean);
  }

  /**
   * Sizes the item an INSERT or UPDATE statement writes: the attributes it names with their
   * parameters (an UPDATE's item is taken as what it sets plus its key, which is what it bills when
   * the item grows). A DELETE writes no item.
   */
  private sizeStatement(statement: string, parameters: AttributeValue[]): void {
    const table = /"([^"]+)"/.exec(statement)?.[1] ?? '';
    const item: Record<string, AttributeValue> = {};
    if (statement.startsWith('INSERT')) {
      [...statement.matchAll(/'([^']+)': \?/g)].forEach((match, i) => {
        const value = parameters[i];
        if (match[1] && value) item[match[1]] = value;
      });
    } else if (statement.startsWith('UPDATE')) {
      [...statement.matchAll(/SET "([^"]+)" = \?/g)].forEach((match, i) => {
        const value = parameters[i];
        if (match[1] && value) item[match[1]] = value;
      });
      const [pk, sk] = parameters.slice(-3);
      if (pk && sk) Object.assign(item, { pk, sk });
    } else return;
    this.size(item, table);
  }

  private answer(operation: string, body: string): Uint8Array {
    switch (operation) {
      case 'SQS.SendMessageBatch': {
        const { Entries } = JSON.parse(body) as { Entries: Array<{ Id: string; MessageBody: string }> };
        let bytes = 0;
        const successful = Entries.map((entry) => {
          bytes += Buffer.byteLength(entry.MessageBody);
          if (this.options.keepMessages) this.observed.messages.push(entry.MessageBody);
          // The SDK checks each MD5 against the body it sent, as it does against SQS.
          const md5 = createHash('md5').update(entry.MessageBody).digest('hex');
          return { Id: entry.Id, MessageId: `m-${++this.messageCounter}`, MD5OfMessageBody: md5 };
        });
        this.observed.sendPayloads.push(bytes);
        return Buffer.from(JSON.stringify({ Successful: successful, Failed: [] }));
      }
      case 'SQS.SendMessage': {
        const { MessageBody } = JSON.parse(body) as { MessageBody: string };
        return Buffer.from(
          JSON.stringify({
            MessageId: `m-${++this.messageCounter}`,
            MD5OfMessageBody: createHash('md5').update(MessageBody).digest('hex'),
          }),
        );
      }
      case 'DynamoDB.BatchWriteItem': {
        if (this.account) {
          const { RequestItems } = JSON.parse(body) as {
            RequestItems: Record<string, Array<{ PutRequest?: { Item: Record<string, AttributeValue> } }>>;
          };
          for (const [table, requests] of Object.entries(RequestItems)) {
            for (const request of requests) if (request.PutRequest) this.size(request.PutRequest.Item, table);
          }
        }
        return EMPTY_UNPROCESSED;
      }
      case 'DynamoDB.PutItem': {
        if (this.account) {
          const { Item, TableName } = JSON.parse(body) as { Item: Record<string, AttributeValue>; TableName: string };
          this.size(Item, TableName);
        }
        return EMPTY_OBJECT;
      }
      case 'DynamoDB.BatchExecuteStatement': {
        // The profiles' conditional writes (lib/worker/profiles/statements.ts): all succeed.
        const { Statements } = JSON.parse(body) as { Statements: Array<{ Statement: string; Parameters?: AttributeValue[] }> };
        if (this.account) for (const statement of Statements) this.sizeStatement(statement.Statement, statement.Parameters ?? []);
        const table = /"([^"]+)"/.exec(Statements[0]?.Statement ?? '')?.[1] ?? '';
        return Buffer.from(JSON.stringify({ Responses: Statements.map(() => ({ TableName: table })) }));
      }
      case 'DynamoDB.BatchGetItem': {
        // No tombstones and no stored profiles: every user of the bench is still wanted, and new.
        const { RequestItems } = JSON.parse(body) as { RequestItems: Record<string, { Keys: unknown[]; ConsistentRead?: boolean }> };
        for (const [table, { Keys, ConsistentRead }] of Object.entries(RequestItems)) {
          if (table.endsWith(PROFILES_SUFFIX)) this.observed.profileReadUnits += Keys.length * (ConsistentRead ? 1 : 0.5);
          else this.observed.readUnits += Keys.length;
        }
        return Buffer.from(
          JSON.stringify({ Responses: Object.fromEntries(Object.keys(RequestItems).map((table) => [table, []])), UnprocessedKeys: {} }),
        );
      }
      // Schema learning (lib/worker/schemas/): nothing recorded yet, every conditional write succeeds.
      case 'DynamoDB.Query':
        return Buffer.from(JSON.stringify({ Items: [], Count: 0 }));
      case 'DynamoDB.UpdateItem':
        return EMPTY_OBJECT;
      case 'DynamoDB.GetItem': {
        const { TableName } = JSON.parse(body) as { TableName: string };
        const suffix = Object.keys(this.options.items ?? {}).find((s) => TableName.endsWith(s));
        const item = suffix ? this.options.items?.[suffix] : undefined;
        return Buffer.from(JSON.stringify(item ? { Item: toAttributeValues(item) } : {}));
      }
      default:
        throw new Error(`the fake AWS has no answer for ${operation}`);
    }
  }
}

/**
 * Length and first 320 bytes of a request: enough to tell apart the requests of a bench run (they
 * differ in request id or entry ids near the start), cheap enough to leave out of the timing.
 */
function fingerprint(body: unknown): string {
  if (typeof body === 'string') return `${body.length}:${body.slice(0, 320)}`;
  if (body instanceof Uint8Array)
    return `${body.byteLength}:${Buffer.from(body.buffer, body.byteOffset, Math.min(320, body.byteLength)).toString('latin1')}`;
  throw new Error('the fake AWS expects a string or byte body');
}

/** The request body as text; the SDK sends JSON as a string or as bytes. */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error('the fake AWS expects a string or byte body');
}

/** DynamoDB's wire form of a value. */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }
  | { B: string }
  | { SS: string[] }
  | { NS: string[] };

function toAttributeValues(item: Record<string, unknown>): Record<string, AttributeValue> {
  const convert = (value: unknown): AttributeValue => {
    if (typeof value === 'string') return { S: value };
    if (typeof value === 'number') return { N: String(value) };
    if (typeof value === 'boolean') return { BOOL: value };
    if (value === null || value === undefined) return { NULL: true };
    if (Array.isArray(value)) return { L: value.map(convert) };
    return { M: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)])) };
  };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, convert(v)]));
}

/**
 * An item's size as DynamoDB bills it: attribute names plus values; strings and binaries by their
 * bytes, numbers about 1 byte per 2 significant digits + 1, booleans and nulls 1 byte, maps and
 * lists 3 bytes plus 1 byte per element (docs: "Item sizes and formats").
 */
export function dynamoItemBytes(item: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S);
  if ('N' in value) return numberBytes(value.N);
  if ('BOOL' in value || 'NULL' in value) return 1;
  if ('B' in value) return Buffer.from(value.B, 'base64').length;
  if ('SS' in value) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  if ('NS' in value) return value.NS.reduce((sum, n) => sum + numberBytes(n), 0);
  if ('M' in value) {
    let bytes = 3;
    for (const [name, inner] of Object.entries(value.M)) bytes += 1 + Buffer.byteLength(name) + valueBytes(inner);
    return bytes;
  }
  let bytes = 3;
  for (const inner of value.L) bytes += 1 + valueBytes(inner);
  return bytes;
}

function numberBytes(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** The size an event would have as a DynamoDB item of its own fields: the storage any design must pay for. */
export function eventItemBytes(event: Record<string, unknown>): number {
  return dynamoItemBytes(toAttributeValues(event));
}
