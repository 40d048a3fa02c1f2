/** The CLI's reads of the tables: every item a Query finds, page after page (outside the functions' door, like lib/admin/). */
import {
  QueryCommand as WireQueryCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export async function queryAll(
  documents: DynamoDBDocumentClient,
  input: ConstructorParameters<typeof QueryCommand>[0],
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * The same Query on the low-level client, its items in wire form, page after page. `call` wraps
 * each request (the worker's erasure gives each its timeout, lib/shared/aws-call.ts).
 */
export async function* queryPages(
  client: DynamoDBClient,
  input: QueryCommandInput,
  call: (send: () => Promise<QueryCommandOutput>) => Promise<QueryCommandOutput> = (send) => send(),
): AsyncGenerator<Record<string, AttributeValue>[]> {
  let start: Record<string, AttributeValue> | undefined;
  do {
    const command = new WireQueryCommand({ ...input, ExclusiveStartKey: start });
    const page = await call(() => client.send(command));
    yield page.Items ?? [];
    start = page.LastEvaluatedKey;
  } while (start);
}
