/**
 * Conditional fact writes, 25 a request: PartiQL's BatchExecuteStatement, whose statements are
 * each an `INSERT` (refused when the fact exists: `DuplicateItem`) or an
 * `UPDATE ... WHERE "o" < ?` (refused when the stored fact is not older than ours), each answered
 * on its own. The same conditions and write units as PutItem and UpdateItem one by one, for a
 * twenty-fifth of the requests.
 */
import { BatchExecuteStatementCommand, type AttributeValue, type BatchStatementRequest } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../../shared/aws-call';
import { forEachLimited } from '../../shared/concurrency';
import { isAwsError, translateAwsError, type DependencyError } from '../../shared/errors';
import type { AttributeMap } from '../../tables/dynamo-wire';
import type { ProfileStore } from './store';

const STATEMENTS_PER_CALL = 25;
/** Parallel BatchExecuteStatement calls of one profile phase. */
const LANES = 4;

/** One fact write: its item (wire form: `pk`, `sk`, `o`, maybe `v` and `id`), over a stored `o` (undefined: not stored). */
export interface FactWrite {
  item: AttributeMap;
  stored: string | undefined;
}

/**
 * The PartiQL statement writing a profile's core item (wire form: `pk`, `sk`, `rev`, `f`, maybe
 * `s`): an `INSERT` when none was read (`read` undefined; refused when one exists), else an
 * `UPDATE ... WHERE "rev" = ?` on the revision read (refused when another write moved it).
 */
export function coreStatementOf(table: string, item: AttributeMap, read: number | undefined): BatchStatementRequest {
  if (read === undefined) return statementOf(table, { item, stored: undefined });
  // `s` is never unset: once spilled, a profile stays so (its fact items stay until erased).
  const names = Object.keys(item).filter((name) => name !== 'pk' && name !== 'sk');
  return updateWhere(table, item, names, '"rev" =', { N: String(read) });
}

/** `UPDATE` of the attributes `names` of `item` (wire form), on its keys and a condition on one attribute (`"o" <`, `"rev" =`) against `value`. */
function updateWhere(
  table: string,
  item: AttributeMap,
  names: readonly string[],
  condition: string,
  value: AttributeValue,
): BatchStatementRequest {
  return {
    Statement: `UPDATE ${quoted(table)} ${names.map((name) => `SET ${quoted(name)} = ?`).join(' ')} WHERE "pk" = ? AND "sk" = ? AND ${condition} ?`,
    Parameters: [...names.map((name) => item[name] as AttributeValue), item.pk!, item.sk!, value],
  };
}

/** `conflict`: the fact was not as read (written by someone else meanwhile); read it again. */
export type WriteAnswer = { status: 'ok' } | { status: 'conflict' } | { status: 'failed'; error: DependencyError };

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The PartiQL statement for one write; attribute names are the codec's own, never an event's. */
export function statementOf(table: string, write: FactWrite): BatchStatementRequest {
  const { item, stored } = write;
  if (stored === undefined) {
    const names = Object.keys(item);
    return {
      Statement: `INSERT INTO ${quoted(table)} VALUE {${names.map((name) => `'${name}': ?`).join(', ')}}`,
      Parameters: names.map((name) => item[name] as AttributeValue),
    };
  }
  // `id` (a hashed sort key's id) never changes: only the value and its order.
  const names = Object.keys(item).filter((name) => name === 'v' || name === 'o');
  return updateWhere(table, item, names, '"o" <', item.o!);
}

/** Statement errors that mean "not as read": the fact is read again. */
const CONFLICTS = new Set(['ConditionalCheckFailed', 'DuplicateItem', 'TransactionConflict']);

/** Runs `writes` (statements), 25 a call and up to 4 calls at a time; one answer per write, in order. Throws only a bug (lib/shared/aws-call.ts). */
export async function executeWrites(
  store: ProfileStore,
  writes: readonly BatchStatementRequest[],
  deadline: number,
): Promise<WriteAnswer[]> {
  const answers: WriteAnswer[] = new Array<WriteAnswer>(writes.length);
  const chunks: number[][] = [];
  for (let i = 0; i < writes.length; i += STATEMENTS_PER_CALL) chunks.push(writes.slice(i, i + STATEMENTS_PER_CALL).map((_, j) => i + j));
  await forEachLimited(chunks, LANES, (chunk) => executeChunk(store, chunk, writes, answers, deadline));
  return answers;
}

async function executeChunk(
  store: ProfileStore,
  chunk: readonly number[],
  writes: readonly BatchStatementRequest[],
  answers: WriteAnswer[],
  deadline: number,
): Promise<void> {
  try {
    const command = new BatchExecuteStatementCommand({ Statements: chunk.map((i) => writes[i] as BatchStatementRequest) });
    const timeoutMs = Math.max(1, Math.ceil(deadline - store.clock.now()));
    const { Responses = [] } = await awsCall({ service: 'DynamoDB', timeoutMs }, () => store.writer.send(command));
    chunk.forEach((i, j) => {
      const code = Responses[j]?.Error?.Code;
      if (code === undefined) answers[i] = { status: 'ok' };
      else if (CONFLICTS.has(code)) answers[i] = { status: 'conflict' };
      else answers[i] = { status: 'failed', error: translateAwsError(statementError(code), 'DynamoDB', 'DynamoDB refused the profile') };
    });
  } catch (error) {
    // A bug is not a failed write: it leaves for the phase to report as unexpected.
    if (!isAwsError(error)) throw error;
    const failure = translateAwsError(error, 'DynamoDB', 'DynamoDB refused the profile');
    for (const i of chunk) answers[i] = { status: 'failed', error: failure };
  }
}

/**
 * A statement's error code as the error the SDK would have thrown for the same single request,
 * for `translateAwsError`: throttling and service faults are transient (`ThrottlingError`,
 * `RequestLimitExceeded`, `ProvisionedThroughputExceeded`, `InternalServerError`), a validation
 * error a refusal, anything else (access, a missing table) configuration.
 */
export function statementError(code: string): Error & { $fault?: string } {
  const names: Record<string, string> = {
    ThrottlingError: 'ThrottlingException',
    ProvisionedThroughputExceeded: 'ProvisionedThroughputExceededException',
    RequestLimitExceeded: 'RequestLimitExceeded',
    InternalServerError: 'InternalServerError',
    ValidationError: 'ValidationException',
  };
  const error = new Error(`statement failed: ${code}`) as Error & { $fault?: string };
  error.name = names[code] ?? code;
  return error;
}
