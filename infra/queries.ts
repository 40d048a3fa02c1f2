/**
 * CloudWatch Logs Insights queries for the questions an operator asks first, saved in the stack
 * (`<stack>/<name>` under Logs Insights, saved queries) and quoted in docs/operations.md (tests/deploy
 * checks the quotes). The fields are those of the functions' JSON log lines (lib/ingest, lib/worker)
 * and the API access log (serverless.yml `provider.logs.httpApi`).
 */
import { queryId, ref, type Stack, type Template } from './settings';

/** Serverless's log group of each function and the API access log. */
export const LOG_GROUPS = {
  ingest: 'IngestLogGroup',
  webhooks: 'WebhooksLogGroup',
  worker: 'WorkerLogGroup',
  api: 'HttpApiLogGroup',
} as const;

/** The log groups of the two functions running the ingest bundle (`ingest`, and `webhooks` for the Webhooks route). */
export const INGEST_LOG_GROUPS = ['ingest', 'webhooks'] as const;

interface SavedQuery {
  name: string;
  logGroups: Array<keyof typeof LOG_GROUPS>;
  query: string;
}

export const QUERIES: Record<'refused' | 'rejected' | 'requestPath' | 'problems' | 'serverErrors', SavedQuery> = {
  refused: {
    name: 'requests-refused-by-reason',
    logGroups: [...INGEST_LOG_GROUPS],
    query: ["filter message = 'request refused'", '| stats count(*) as requests by status, reason', '| sort requests desc'].join('\n'),
  },
  rejected: {
    name: 'events-rejected-by-source',
    logGroups: [...INGEST_LOG_GROUPS],
    query: [
      "filter (message = 'events enqueued' and rejected > 0) or message = 'body quarantined'",
      '| fields coalesce(rejected, 1) as events, coalesce(`rejectedReasons.0`, reason) as firstReason',
      '| stats sum(events) as rejectedEvents by sourceId, route, firstReason',
      '| sort rejectedEvents desc',
    ].join('\n'),
  },
  requestPath: {
    name: 'request-path',
    logGroups: ['api', ...INGEST_LOG_GROUPS, 'worker'],
    query: [
      'fields @timestamp, @log, message, routeKey, status, reason, accepted, rejected, failedMessages',
      "| filter @message like 'REPLACE-WITH-THE-REQUEST-ID'",
      '| sort @timestamp asc',
    ].join('\n'),
  },
  problems: {
    name: 'errors-and-warnings',
    logGroups: [...INGEST_LOG_GROUPS, 'worker'],
    query: [
      "filter level in ['WARN', 'ERROR'] or failedMessages > 0 or @message like /Task timed out|Runtime\\./",
      '| fields coalesce(message, @message) as what',
      '| stats count(*) as lines, sum(failedMessages) as failedMessageCount by @log, what',
      '| sort lines desc',
    ].join('\n'),
  },
  serverErrors: {
    name: 'api-5xx',
    logGroups: ['api'],
    query: ['filter status like /^5/', '| stats count(*) as requests by routeKey, status, integrationError', '| sort requests desc'].join(
      '\n',
    ),
  },
};

export function queryDefinitions(stack: Stack): Template {
  const resources: Template = {};
  for (const query of Object.values(QUERIES)) {
    resources[queryId(query.name)] = {
      Type: 'AWS::Logs::QueryDefinition',
      Properties: {
        Name: `${stack.prefix}/${query.name}`,
        QueryString: query.query,
        LogGroupNames: query.logGroups.map((group) => ref(LOG_GROUPS[group])),
      },
    };
  }
  return resources;
}
