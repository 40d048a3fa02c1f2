/**
 * A command's connection to a stage: the target, AWS clients built by `lib/shared/clients.ts` for it, and
 * the queue URLs (from the stack outputs, else looked up by name).
 */
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { resourceName } from '../../infra';
import { createClients, type Clients } from '../../lib/shared/clients';
import { createSourceAdmin, type SourceAdmin } from '../../lib/admin/sources';
import { SourceAdminError } from '../../lib/admin/sources';
import type { Values } from './args';
import type { CommandDeps } from './command';
import { CliError, EXIT, explainError, UsageError, type ErrorContext } from './errors';
import type { Io } from './io';
import { describeTarget, resolveTarget, targetRequest, type Target } from './target';

export interface Stage {
  target: Target;
  clients: Clients;
  admin: SourceAdmin;
  queueUrls(): Promise<{ queueUrl: string; deadLetterQueueUrl: string }>;
  errorContext: ErrorContext;
  close(): void;
}

export async function openStage(values: Values, io: Io, deps: CommandDeps = {}): Promise<Stage> {
  const target = await resolveTarget(targetRequest(values, io.env), io.env, deps.readOutputs);
  if (target.kind === 'local') {
    // The emulators accept any credentials; placeholders spare a developer from configuring AWS.
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  }
  const clients = createClients({ region: target.region, dynamodbEndpoint: target.dynamodbEndpoint, sqsEndpoint: target.sqsEndpoint });
  let queues: Promise<{ queueUrl: string; deadLetterQueueUrl: string }> | undefined;
  const lookup = async (url: string | undefined, name: 'events' | 'dead-letter'): Promise<string> => {
    if (url) return url;
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: resourceName(target.stage, name) }));
    if (!QueueUrl) throw new Error(`no URL for queue ${resourceName(target.stage, name)}`);
    return QueueUrl;
  };
  return {
    target,
    clients,
    admin: createSourceAdmin({ documents: clients.documents, tables: target.tables }),
    queueUrls() {
      queues ??= Promise.all([lookup(target.queueUrl, 'events'), lookup(target.deadLetterQueueUrl, 'dead-letter')]).then(
        ([queueUrl, deadLetterQueueUrl]) => ({ queueUrl, deadLetterQueueUrl }),
      );
      return queues;
    },
    errorContext: { dynamodbEndpoint: target.dynamodbEndpoint, sqsEndpoint: target.sqsEndpoint, local: target.kind === 'local' },
    close() {
      clients.sqs.destroy();
      clients.dynamodb.destroy();
    },
  };
}

/**
 * Throws a `UsageError` (exit 2) when `sourceId` is not a source of the stage: a mistyped id would
 * otherwise read as "no profile" or "no events" with exit 0, as if the source were merely empty.
 */
export async function requireSource(stage: Stage, sourceId: string): Promise<void> {
  if (await stage.admin.getSource(sourceId)) return;
  throw new UsageError(
    `source "${sourceId}" does not exist in ${describeTarget(stage.target)}; "segment-ingest sources list" shows the sources`,
  );
}

/**
 * Opens the stage, runs `action`, closes it. Failures become a `CliError` explained with the stage's
 * endpoints ("cannot reach DynamoDB at ..."); `SourceAdminError`s (an unknown source, an ambiguous
 * key, an origin that is not one) keep their message and are bad arguments (exit 2).
 */
export async function withStage<T>(values: Values, io: Io, deps: CommandDeps, action: (stage: Stage) => Promise<T>): Promise<T> {
  const stage = await openStage(values, io, deps);
  try {
    return await action(stage);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof SourceAdminError) throw new CliError(error.message, EXIT.usage, { cause: error });
    throw new CliError(explainError(error, stage.errorContext), EXIT.failed, { cause: error });
  } finally {
    stage.close();
  }
}

/** Makes a report of items read with the document client printable as JSON: sets as arrays, binary as base64. */
export function toJsonValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Set) return [...value].map(toJsonValue);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
}
