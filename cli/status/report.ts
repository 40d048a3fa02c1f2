/**
 * What `status` shows: the queues (waiting, in flight, dead letters), items per table, and the
 * latest rejections with their reasons.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_NAMES, type TableName } from '../../infra';
import { isEventType } from '../../lib/spec/event-types';
import { formatNumber, formatTable } from '../core/format';
import { listRejected, UNKNOWN_SOURCE, type RejectedEntry } from '../../lib/tables/rejected';
import type { Stage } from '../core/stage';
import { describeTarget, type Target } from '../core/target';
import type { KeyRecord } from '../../lib/tables/sources';
import { unscopedWarning } from '../keys/command';

export interface QueueStatus {
  role: 'events' | 'dead-letter';
  url: string;
  waiting: number;
  inFlight: number;
  delayed: number;
}

export interface TableStatus {
  name: TableName;
  table: string;
  items: number;
}

export interface EndpointStatus {
  url: string | undefined;
  ok: boolean;
  detail: string;
}

export interface StatusReport {
  target: Target;
  endpoint: EndpointStatus;
  queues: QueueStatus[];
  tables: TableStatus[];
  /** Exact counts (Scan with Select COUNT) or DynamoDB's ItemCount, refreshed about every six hours. */
  exactCounts: boolean;
  rejections: RejectedEntry[];
  /** Active keys created before key scopes: they may still erase (docs/keys-and-scopes.md). */
  unscopedKeys: Array<Pick<KeyRecord, 'keyPrefix' | 'sourceId' | 'createdAt'>>;
}

export interface StatusOptions {
  exact: boolean;
  rejections: number;
  fetch?: typeof fetch;
}

/**
 * Counts a table's items exactly: a parallel Scan with `Select: COUNT` (reads the whole table; the
 * segments make it several times faster, in AWS and in DynamoDB Local alike, for the same reads).
 */
export async function countItems(documents: DynamoDBDocumentClient, table: string, segments = 8): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let count = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start, Segment: segment, TotalSegments: segments }),
        );
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start);
      return count;
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

async function queueStatus(stage: Stage, role: QueueStatus['role'], url: string): Promise<QueueStatus> {
  const { Attributes = {} } = await stage.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const number = (name: string) => Number(Attributes[name as keyof typeof Attributes] ?? 0) || 0;
  return {
    role,
    url,
    waiting: number('ApproximateNumberOfMessages'),
    inFlight: number('ApproximateNumberOfMessagesNotVisible'),
    delayed: number('ApproximateNumberOfMessagesDelayed'),
  };
}

async function endpointStatus(url: string | undefined, fetchImpl: typeof fetch): Promise<EndpointStatus> {
  if (!url) return { url, ok: false, detail: 'unknown (the stack has no HttpApiUrl output; pass --endpoint)' };
  const started = Date.now();
  try {
    const response = await fetchImpl(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return {
      url,
      ok: response.ok,
      detail: `${response.ok ? 'healthy' : `GET /health answered ${response.status}`} (${Date.now() - started} ms)`,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      url,
      ok: false,
      detail: `unreachable${cause ? ` (${cause})` : (error as Error).name === 'TimeoutError' ? ' (no answer within 3 s)' : ''}`,
    };
  }
}

export async function gatherStatus(stage: Stage, options: StatusOptions): Promise<StatusReport> {
  const { target } = stage;
  const { queueUrl, deadLetterQueueUrl } = await stage.queueUrls();
  const sourceIds = async () => [...(await stage.admin.listSources()).map((s) => s.sourceId), UNKNOWN_SOURCE];
  const [endpoint, queues, tables, rejections, keys] = await Promise.all([
    endpointStatus(target.endpoint, options.fetch ?? fetch),
    Promise.all([queueStatus(stage, 'events', queueUrl), queueStatus(stage, 'dead-letter', deadLetterQueueUrl)]),
    Promise.all(
      TABLE_NAMES.map(async (name): Promise<TableStatus> => {
        const table = target.tables[name];
        if (options.exact) return { name, table, items: await countItems(stage.clients.documents, table) };
        const { Table } = await stage.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
        return { name, table, items: Table?.ItemCount ?? 0 };
      }),
    ),
    options.rejections > 0
      ? sourceIds().then((ids) =>
          listRejected(stage.clients.documents, target.tables.rejected, {
            sourceIds: ids,
            includeReplayed: false,
            limit: options.rejections,
          }),
        )
      : Promise.resolve([]),
    stage.admin.listKeys(),
  ]);
  const unscopedKeys = keys
    .filter((k) => !k.revokedAt && k.scope === undefined)
    .map(({ keyPrefix, sourceId, createdAt }) => ({ keyPrefix, sourceId, createdAt }));
  return { target, endpoint, queues, tables, exactCounts: options.exact, rejections, unscopedKeys };
}

export function formatStatus(report: StatusReport): string {
  const n = formatNumber;
  const parts: string[] = [];
  parts.push(`segment-ingest status: ${describeTarget(report.target)}\n`);
  parts.push(`endpoint  ${report.endpoint.url ?? '-'}  ${report.endpoint.detail}\n`);
  parts.push(`${unscopedWarning(report.unscopedKeys) ?? ''}\n`);

  parts.push(
    formatTable(
      [
        { header: 'QUEUE' },
        { header: 'WAITING', align: 'right' },
        { header: 'IN FLIGHT', align: 'right' },
        { header: 'DELAYED', align: 'right' },
        { header: 'URL' },
      ],
      report.queues.map((q) => [q.role, n(q.waiting), n(q.inFlight), n(q.delayed), q.url]),
    ),
  );
  const dead = report.queues.find((q) => q.role === 'dead-letter');
  if (dead && dead.waiting + dead.inFlight > 0)
    parts.push(`! ${n(dead.waiting + dead.inFlight)} dead-lettered message(s): fix the cause, then run: segment-ingest dlq redrive\n`);
  parts.push('\n');

  const eventTotal = report.tables.filter((t) => isEventType(t.name)).reduce((sum, t) => sum + t.items, 0);
  parts.push(
    formatTable(
      [{ header: 'TABLE' }, { header: report.exactCounts ? 'ITEMS' : 'ITEMS (approx.)', align: 'right' }, { header: 'NAME' }],
      [...report.tables.map((t) => [t.name, n(t.items), t.table]), ['all events', n(eventTotal), '']],
    ),
  );
  if (!report.exactCounts) parts.push("(DynamoDB's ItemCount, updated about every six hours; --exact counts with a full scan)\n");
  parts.push('\n');

  if (report.rejections.length === 0) {
    parts.push('No rejections waiting (rejected events not yet replayed).\n');
  } else {
    parts.push(`LATEST REJECTIONS (newest first; all of them: segment-ingest rejected list)\n`);
    parts.push(
      formatTable(
        [
          { header: 'RECEIVED' },
          { header: 'SOURCE' },
          { header: 'ROUTE' },
          { header: '#', align: 'right' },
          { header: 'MESSAGE ID', max: 24 },
          { header: 'REASONS', max: 90 },
        ],
        report.rejections.map((r) => [
          r.receivedAt,
          r.sourceId,
          r.route,
          r.index === undefined ? '-' : String(r.index),
          r.messageId ?? '-',
          r.reasons.join('; '),
        ]),
      ),
    );
  }
  return parts.join('');
}
