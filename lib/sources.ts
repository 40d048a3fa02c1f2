/**
 * Managing sources and their keys: what the local stack, the tests and the ops CLI use. A key is
 * returned once, when it is created; only its hash is stored.
 */
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { generateKey, hashKey, keyPrefix, type KeyRecord, type SourceRecord } from './auth';

export interface SourceAdminDeps {
  documents: DynamoDBDocumentClient;
  tables: { keys: string; sources: string };
  now?: () => Date;
}

export class SourceAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceAdminError';
  }
}

export function createSourceAdmin(deps: SourceAdminDeps) {
  const now = () => (deps.now ? deps.now() : new Date()).toISOString();
  const { documents, tables } = deps;

  return {
    /** Creates a source; throws when it exists already. */
    async createSource(sourceId: string, name?: string): Promise<SourceRecord> {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(sourceId)) {
        throw new SourceAdminError(`source id "${sourceId}" must be 1-64 letters, digits, "-" or "_"`);
      }
      const source: SourceRecord = { sourceId, name: name ?? sourceId, disabled: false, createdAt: now() };
      try {
        await documents.send(new PutCommand({ TableName: tables.sources, Item: source, ConditionExpression: 'attribute_not_exists(sourceId)' }));
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`source "${sourceId}" already exists`);
        throw error;
      }
      return source;
    },

    async getSource(sourceId: string): Promise<SourceRecord | undefined> {
      const { Item } = await documents.send(new GetCommand({ TableName: tables.sources, Key: { sourceId } }));
      return Item as SourceRecord | undefined;
    },

    async listSources(): Promise<SourceRecord[]> {
      return scanAll<SourceRecord>(documents, tables.sources);
    },

    async setDisabled(sourceId: string, disabled: boolean): Promise<void> {
      await updateExisting(documents, tables.sources, { sourceId }, 'SET disabled = :d', { ':d': disabled }, `source "${sourceId}" does not exist`);
    },

    async setWebhookSecret(sourceId: string, secret: string): Promise<void> {
      await updateExisting(documents, tables.sources, { sourceId }, 'SET webhookSecret = :s, webhookSecretSetAt = :t', { ':s': secret, ':t': now() }, `source "${sourceId}" does not exist`);
    },

    /** Creates a key for an existing source; pass `key` to register a known one (the local stack's dev key). */
    async createKey(sourceId: string, key: string = generateKey()): Promise<{ key: string; record: KeyRecord }> {
      const { Item } = await documents.send(new GetCommand({ TableName: tables.sources, Key: { sourceId } }));
      if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
      const record: KeyRecord = { keyHash: hashKey(key), sourceId, keyPrefix: keyPrefix(key), createdAt: now() };
      await documents.send(new PutCommand({ TableName: tables.keys, Item: record }));
      return { key, record };
    },

    async listKeys(sourceId?: string): Promise<KeyRecord[]> {
      const keys = await scanAll<KeyRecord>(documents, tables.keys);
      return sourceId ? keys.filter((k) => k.sourceId === sourceId) : keys;
    },

    /** Revokes a key given the key itself, its hash, or its unique prefix. */
    async revokeKey(keyOrPrefix: string): Promise<KeyRecord> {
      const keys = await scanAll<KeyRecord>(documents, tables.keys);
      const hash = hashKey(keyOrPrefix);
      const matches = keys.filter((k) => k.keyHash === hash || k.keyHash === keyOrPrefix || k.keyPrefix === keyOrPrefix);
      if (matches.length === 0) throw new SourceAdminError(`no key matches "${keyOrPrefix.slice(0, 7)}…"`);
      if (matches.length > 1) throw new SourceAdminError(`"${keyOrPrefix}" matches ${matches.length} keys; give the whole key or its hash`);
      const [match] = matches as [KeyRecord];
      const revokedAt = now();
      await documents.send(new UpdateCommand({ TableName: tables.keys, Key: { keyHash: match.keyHash }, UpdateExpression: 'SET revokedAt = :t', ExpressionAttributeValues: { ':t': revokedAt } }));
      return { ...match, revokedAt };
    },
  };
}

export type SourceAdmin = ReturnType<typeof createSourceAdmin>;

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
  values: Record<string, unknown>,
  missing: string,
): Promise<void> {
  try {
    await documents.send(new UpdateCommand({ TableName: table, Key: key, UpdateExpression: expression, ExpressionAttributeValues: values, ConditionExpression: `attribute_exists(${Object.keys(key)[0]})` }));
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(missing);
    throw error;
  }
}
