/**
 * Conditional profile writes, 25 a request: PartiQL's BatchExecuteStatement, whose statements are
 * each an `INSERT` (refused when the item exists), an `UPDATE ... WHERE rev = ?` or a
 * `DELETE ... WHERE rev = ?` (refused when the revision moved on), each answered on its own. The
 * same conditions and write units as PutItem and DeleteItem one by one, for a twenty-fifth of the
 * requests: a batch that touches hundreds of profiles spends its CPU on them, not on signing.
 */
import { BatchExecuteStatementCommand, type AttributeValue, type BatchStatementRequest } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../../shared/aws-call';
import { forEachLimited } from '../../shared/concurrency';
import { isAwsError, translateAwsError, type DependencyError } from '../../shared/errors';
import { marshallItem } from '../../tables/dynamo-wire';
import { profileItem } from '../../tables/profiles';
import { profileItemKey } from '../../tables/profiles';
import type { Profile } from './profile';
import type { ProfileStore } from './store';

const STATEMENTS_PER_CALL = 25;
/** Parallel BatchExecuteStatement calls of one profile phase. */
const LANES = 4;

/** One write: `next` over `before` (undefined: not stored), or the deletion of `before`. */
export interface ProfileWrite {
  next: Profile;
  before: Profile | undefined;
  action: 'put' | 'delete';
}

/** `conflict`: the item was not as read (written by someone else meanwhile); read it again and retry. */
export type WriteAnswer = { status: 'ok' } | { status: 'conflict' } | { status: 'failed'; error: DependencyError };

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The PartiQL statement for one write; attribute names are the codec's own, never an event's. */
export function statementOf(table: string, write: ProfileWrite): BatchStatementRequest {
  const { next, before, action } = write;
  const key = marshallItem(profileItemKey(next.key));
  const where = `WHERE "pk" = ? AND "sk" = ? AND "rev" = ?`;
  const keyParameters = [key.pk as AttributeValue, key.sk as AttributeValue, { N: String(before?.rev ?? 0) }];
  if (action === 'delete') return { Statement: `DELETE FROM ${quoted(table)} ${where}`, Parameters: keyParameters };
  const item = marshallItem(profileItem(next));
  if (!before) {
    const names = Object.keys(item);
    return {
      Statement: `INSERT INTO ${quoted(table)} VALUE {${names.map((name) => `'${name}': ?`).join(', ')}}`,
      Parameters: names.map((name) => item[name] as AttributeValue),
    };
  }
  const names = Object.keys(item).filter((name) => name !== 'pk' && name !== 'sk');
  const gone = Object.keys(profileItem(before)).filter((name) => !(name in item));
  const sets = names.map((name) => `SET ${quoted(name)} = ?`).join(' ');
  const removes = gone.map((name) => ` REMOVE ${quoted(name)}`).join('');
  return {
    Statement: `UPDATE ${quoted(table)} ${sets}${removes} ${where}`,
    Parameters: [...names.map((name) => item[name] as AttributeValue), ...keyParameters],
  };
}

/** Statement errors that mean "not as read": the write is retried after reading again. */
const CONFLICTS = new Set(['ConditionalCheckFailed', 'DuplicateItem', 'TransactionConflict']);

/** Runs `writes`, 25 a call and up to 4 calls at a time; one answer per write, in order. Throws only a bug (lib/shared/aws-call.ts). */
export async function executeWrites(store: ProfileStore, writes: readonly ProfileWrite[], deadline: number): Promise<WriteAnswer[]> {
  const answers: WriteAnswer[] = new Array<WriteAnswer>(writes.length);
  const chunks: number[][] = [];
  for (let i = 0; i < writes.length; i += STATEMENTS_PER_CALL) chunks.push(writes.slice(i, i + STATEMENTS_PER_CALL).map((_, j) => i + j));
  await forEachLimited(chunks, LANES, (chunk) => executeChunk(store, chunk, writes, answers, deadline));
  return answers;
}

async function executeChunk(
  store: ProfileStore,
  chunk: readonly number[],
  writes: readonly ProfileWrite[],
  answers: WriteAnswer[],
  deadline: number,
): Promise<void> {
  try {
    const command = new BatchExecuteStatementCommand({ Statements: chunk.map((i) => statementOf(store.table, writes[i] as ProfileWrite)) });
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
