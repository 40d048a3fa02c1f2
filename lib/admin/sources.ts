/**
 * Managing sources and their keys: what the local stack, the tests and the ops CLI use. A key is
 * returned once, when it is created; only its hash is stored.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { MAX_ALLOWED_ORIGINS, parseAllowedOrigin } from '../shared/origins';
import { hashKey, isKeyScope, KEY_SCOPES, keyPrefix, type KeyRecord, type KeyScope, type SourceRecord } from '../tables/sources';

export interface SourceAdminDeps {
  documents: DynamoDBDocumentClient;
  tables: { keys: string; sources: string };
  now?: () => Date;
}

/**
 * How long the previous webhook secret stays valid after a rotation, by default: time to paste the
 * new one into Segment, plus the four hours Segment retries deliveries it signed with the old one.
 */
export const WEBHOOK_SECRET_GRACE_SECONDS = 24 * 3600;

/** A new random key: `sk_` and 40 characters of base62, about 238 bits of entropy. */
/**
 * A key's SHA-256 hash or its start, as `keys list` shows it (16 hex digits) or longer: shorter
 * starts would too often name two keys.
 */
const HASH_PREFIX = /^[0-9a-f]{16,64}$/;

export function generateKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(64);
  let key = 'sk_';
  for (const byte of bytes) {
    if (byte < 248) key += alphabet[byte % 62]; // 248 = 4 * 62: no modulo bias
    if (key.length === 43) break;
  }
  return key.length === 43 ? key : generateKey();
}

/** A random shared secret for Segment's Webhooks destination: 32 bytes, hex. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

export class SourceAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceAdminError';
  }
}

/** Sources, their webhook secrets, rate limits and allowed origins, and their keys. */
export class SourceAdmin {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tables: SourceAdminDeps['tables'];

  constructor(private readonly deps: SourceAdminDeps) {
    this.documents = deps.documents;
    this.tables = deps.tables;
  }

  private now(): string {
    return (this.deps.now ? this.deps.now() : new Date()).toISOString();
  }

  /** Creates a source; throws when it exists already. */
  async createSource(sourceId: string, name?: string): Promise<SourceRecord> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(sourceId)) {
      throw new SourceAdminError(`source id "${sourceId}" must be 1-64 letters, digits, "-" or "_"`);
    }
    const source: SourceRecord = { sourceId, name: name ?? sourceId, disabled: false, createdAt: this.now() };
    try {
      await this.documents.send(
        new PutCommand({ TableName: this.tables.sources, Item: source, ConditionExpression: 'attribute_not_exists(sourceId)' }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`source "${sourceId}" already exists`);
      throw error;
    }
    return source;
  }

  async getSource(sourceId: string): Promise<SourceRecord | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tables.sources, Key: { sourceId } }));
    return Item as SourceRecord | undefined;
  }

  async listSources(): Promise<SourceRecord[]> {
    return scanAll<SourceRecord>(this.documents, this.tables.sources);
  }

  async setDisabled(sourceId: string, disabled: boolean): Promise<void> {
    await updateExisting(
      this.documents,
      this.tables.sources,
      { sourceId },
      'SET disabled = :d',
      { ':d': disabled },
      `source "${sourceId}" does not exist`,
    );
  }

  /**
   * Sets or rotates the source's webhook shared secret. The secret it replaces stays valid for
   * `graceSeconds` (default 24 h) so deliveries Segment signed with it are not refused while the
   * new one is being configured there and while Segment retries; pass 0 to end it at once (a
   * leaked secret). Takes effect within the ingest function's cache lifetime.
   */
  async setWebhookSecret(
    sourceId: string,
    secret: string,
    options: { graceSeconds?: number } = {},
  ): Promise<{ previousValidUntil?: string }> {
    if (secret.length === 0 || secret.length > 1024) throw new SourceAdminError('a webhook secret must be 1-1024 characters');
    const graceSeconds = options.graceSeconds ?? WEBHOOK_SECRET_GRACE_SECONDS;
    if (!Number.isFinite(graceSeconds) || graceSeconds < 0) throw new SourceAdminError('graceSeconds must be 0 or more');
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tables.sources, Key: { sourceId }, ConsistentRead: true }));
    if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    const current = (Item as SourceRecord).webhookSecret;
    const at = this.now();
    const keepPrevious = current !== undefined && current !== secret && graceSeconds > 0;
    const previousValidUntil = keepPrevious ? new Date(Date.parse(at) + graceSeconds * 1000).toISOString() : undefined;
    const values: Record<string, unknown> = { ':s': secret, ':t': at };
    let expression = 'SET webhookSecret = :s, webhookSecretSetAt = :t';
    if (keepPrevious) {
      expression += ', previousWebhookSecret = :p, previousWebhookSecretExpiresAt = :e';
      Object.assign(values, { ':p': current, ':e': previousValidUntil });
    } else if (current !== secret) {
      expression += ' REMOVE previousWebhookSecret, previousWebhookSecretExpiresAt';
    }
    // Two rotations racing each other fail rather than lose a secret silently.
    await this.updateIfUnchanged(sourceId, 'webhookSecret', current, expression, values, `the webhook secret of source "${sourceId}"`);
    return previousValidUntil === undefined ? {} : { previousValidUntil };
  }

  /**
   * Turns the first-element signature form on or off (SourceRecord.webhookBatching): off, only a
   * signature over the whole body is accepted, so nothing can be appended to a signed event.
   */
  async setWebhookBatching(sourceId: string, batching: boolean): Promise<void> {
    await updateExisting(
      this.documents,
      this.tables.sources,
      { sourceId },
      'SET webhookBatching = :b',
      { ':b': batching },
      `source "${sourceId}" does not exist`,
    );
  }

  /** Sets the events/s each ingest instance accepts from the source; `undefined` removes the limit. */
  async setRateLimit(sourceId: string, perSecond: number | undefined): Promise<void> {
    if (perSecond !== undefined && !(Number.isFinite(perSecond) && perSecond > 0)) {
      throw new SourceAdminError(`rate limit must be a positive number of events per second, got ${perSecond}`);
    }
    const [expression, values] =
      perSecond === undefined ? ['REMOVE rateLimitPerSecond', undefined] : ['SET rateLimitPerSecond = :r', { ':r': perSecond }];
    await updateExisting(this.documents, this.tables.sources, { sourceId }, expression, values, `source "${sourceId}" does not exist`);
  }

  /**
   * Changes which browser origins may send with the source's keys (SourceRecord.allowedOrigins):
   * `add` and `remove` edit the list, `any` drops it (every origin: the default), `none` empties it
   * (no page at all; servers still send). Origins are normalised and checked first (origins.ts).
   * Returns the list now in force, `undefined` for any origin. The update is conditional on the
   * list it read, so two concurrent changes cannot lose one another. Takes effect within the
   * ingest function's cache lifetime.
   */
  async changeAllowedOrigins(sourceId: string, change: OriginChange): Promise<string[] | undefined> {
    const given = 'add' in change ? change.add : 'remove' in change ? change.remove : [];
    const origins = normaliseOrigins(given);
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tables.sources, Key: { sourceId }, ConsistentRead: true }));
    if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    const current = (Item as SourceRecord).allowedOrigins;
    const next = nextOrigins(sourceId, current, change, origins);
    await this.updateIfUnchanged(
      sourceId,
      'allowedOrigins',
      current,
      next === undefined ? 'REMOVE allowedOrigins' : 'SET allowedOrigins = :next',
      next === undefined ? {} : { ':next': next },
      `the allowed origins of source "${sourceId}"`,
    );
    return next;
  }

  /**
   * Applies `expression` to an existing source only while `attribute` still holds `current`, the
   * value read before (absent when `undefined`): of two changes racing each other, one fails with
   * "`what` changed meanwhile" instead of being lost.
   */
  private async updateIfUnchanged(
    sourceId: string,
    attribute: string,
    current: unknown,
    expression: string,
    values: Record<string, unknown>,
    what: string,
  ): Promise<void> {
    const condition = current === undefined ? `attribute_not_exists(${attribute})` : `${attribute} = :current`;
    const allValues = current === undefined ? values : { ...values, ':current': current };
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tables.sources,
          Key: { sourceId },
          UpdateExpression: expression,
          ExpressionAttributeValues: Object.keys(allValues).length > 0 ? allValues : undefined,
          ConditionExpression: `attribute_exists(sourceId) AND ${condition}`,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`${what} changed meanwhile; try again`);
      throw error;
    }
  }

  /**
   * Creates a key for an existing source, of scope `events` unless `scope` says otherwise (see
   * KeyScope); pass `key` to register a known one (the local stack's dev key).
   */
  async createKey(sourceId: string, options: { key?: string; scope?: KeyScope } = {}): Promise<{ key: string; record: KeyRecord }> {
    const { key = generateKey(), scope = 'events' } = options;
    if (!isKeyScope(scope)) throw new SourceAdminError(`scope "${String(scope)}" is not one of: ${KEY_SCOPES.join(', ')}`);
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tables.sources, Key: { sourceId } }));
    if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    const record: KeyRecord = { keyHash: hashKey(key), sourceId, keyPrefix: keyPrefix(key), createdAt: this.now(), scope };
    await this.documents.send(new PutCommand({ TableName: this.tables.keys, Item: record }));
    return { key, record };
  }

  async listKeys(sourceId?: string): Promise<KeyRecord[]> {
    const keys = await scanAll<KeyRecord>(this.documents, this.tables.keys);
    return sourceId ? keys.filter((k) => k.sourceId === sourceId) : keys;
  }

  /** Revokes a key given the key itself, its hash, or its unique prefix. */
  async revokeKey(keyOrPrefix: string): Promise<KeyRecord & { alreadyRevoked: boolean }> {
    const keys = await scanAll<KeyRecord>(this.documents, this.tables.keys);
    const hash = hashKey(keyOrPrefix);
    const matches = keys.filter(
      (k) => k.keyHash === hash || k.keyPrefix === keyOrPrefix || (HASH_PREFIX.test(keyOrPrefix) && k.keyHash.startsWith(keyOrPrefix)),
    );
    if (matches.length === 0) throw new SourceAdminError(`no key matches "${keyOrPrefix.slice(0, 7)}…"`);
    if (matches.length > 1) throw new SourceAdminError(`"${keyOrPrefix}" matches ${matches.length} keys; give the whole key or its hash`);
    const [match] = matches as [KeyRecord];
    // A second revocation keeps the first time: when a key stopped working is what an audit asks.
    const { Attributes } = await this.documents.send(
      new UpdateCommand({
        TableName: this.tables.keys,
        Key: { keyHash: match.keyHash },
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :t)',
        ExpressionAttributeValues: { ':t': this.now() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { ...match, revokedAt: (Attributes as KeyRecord | undefined)?.revokedAt, alreadyRevoked: match.revokedAt !== undefined };
  }
}

/** A change to a source's allowed origins (`SourceAdmin.changeAllowedOrigins`). */
export type OriginChange = { add: readonly string[] } | { remove: readonly string[] } | { any: true } | { none: true };

/** The normalised origins, or one error naming every origin that is not one. */
function normaliseOrigins(given: readonly string[]): string[] {
  const parsed = given.map(parseAllowedOrigin);
  const problems = parsed.flatMap((p) => (p.ok ? [] : [p.problem]));
  if (problems.length > 0) throw new SourceAdminError(problems.join('; '));
  return [...new Set(parsed.flatMap((p) => (p.ok ? [p.origin] : [])))];
}

function nextOrigins(sourceId: string, current: string[] | undefined, change: OriginChange, origins: string[]): string[] | undefined {
  if ('any' in change) return undefined;
  if ('none' in change) return [];
  if ('add' in change) {
    const next = [...new Set([...(current ?? []), ...origins])];
    if (next.length > MAX_ALLOWED_ORIGINS) {
      throw new SourceAdminError(
        `a source allows at most ${MAX_ALLOWED_ORIGINS} origins; use wildcards (https://*.shop.example) for many subdomains`,
      );
    }
    return next;
  }
  if (current === undefined) throw new SourceAdminError(`source "${sourceId}" accepts every origin: there is no list to remove from`);
  const missing = origins.filter((origin) => !current.includes(origin));
  if (missing.length > 0) throw new SourceAdminError(`not among the allowed origins of source "${sourceId}": ${missing.join(', ')}`);
  return current.filter((origin) => !origins.includes(origin));
}

export function createSourceAdmin(deps: SourceAdminDeps): SourceAdmin {
  return new SourceAdmin(deps);
}

async function scanAll<T>(documents: DynamoDBDocumentClient, table: string): Promise<T[]> {
  const items: T[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as T[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function updateExisting(
  documents: DynamoDBDocumentClient,
  table: string,
  key: Record<string, string>,
  expression: string,
  values: Record<string, unknown> | undefined,
  missing: string,
): Promise<void> {
  try {
    await documents.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: expression,
        ExpressionAttributeValues: values,
        ConditionExpression: `attribute_exists(${Object.keys(key)[0]})`,
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(missing);
    throw error;
  }
}
