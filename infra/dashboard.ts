/**
 * The pipeline on one CloudWatch dashboard, in the order an event travels. Our own metrics are
 * drawn from lib/shared/metrics.ts (`FUNCTION_METRICS`, `LATENCY_METRIC`, `METRICS_NAMESPACE`): a
 * metric added there is drawn here with no change. The body goes through `Fn::Sub`, so `${HttpApi}`
 * and the like become the deployed ids.
 */
import { FUNCTION_METRICS, LATENCY_METRIC, METRICS_NAMESPACE, type FunctionName } from '../lib/shared/metrics';
import { LOG_GROUPS, QUERIES } from './queries';
import { EVENTS_QUEUE, functionId, queueId, type Stack, type Template } from './settings';

type Options = Record<string, unknown>;
/**
 * The functions on either side of the queue, as their metrics name them; both emit `LATENCY_METRIC`.
 * The `webhooks` function runs the ingest code, so its own metrics are `function=ingest`'s.
 */
const QUEUE_FUNCTIONS = ['ingest', 'worker'] as const;
/** The Lambda functions on either side of the queue, for Lambda's own metrics (one series per function). */
const QUEUE_LAMBDAS = ['ingest', 'webhooks', 'worker'] as const;

const api = (metric: string, options: Options = {}) => ['AWS/ApiGateway', metric, 'ApiId', '${HttpApi}', { label: metric, ...options }];
const lambda = (fn: string, metric: string, options: Options = {}) => [
  'AWS/Lambda',
  metric,
  'FunctionName',
  `\${${functionId(fn)}}`,
  { label: `${fn} ${metric}`, ...options },
];
const sqs = (queue: string, metric: string) => [
  'AWS/SQS',
  metric,
  'QueueName',
  `\${${queueId(queue)}.QueueName}`,
  { label: `${queue} ${metric}` },
];
const graph = (title: string, metrics: unknown[], extra: Options = {}) => ({
  type: 'metric',
  width: 8,
  height: 6,
  properties: { title, metrics, region: '${AWS::Region}', view: 'timeSeries', stat: 'Sum', period: 300, ...extra },
});
const latest = { stat: 'Maximum', period: 60 };

/**
 * Our metrics carry `service` (one per stage) and `function`; SEARCH finds a function's series
 * whatever other dimensions the code adds (`reason`, `type`, `kind`), SUM draws them as one line.
 */
const custom = (stack: Stack, fn: FunctionName) => (metric: string) => [
  {
    id: `${fn}${metric}`.replace(/^./, (c) => c.toLowerCase()), // metric math ids start lowercase
    label: metric,
    expression: `SUM(SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="${metric}" service="${stack.prefix}" function="${fn}"', 'Sum', 300))`,
  },
];

const latency = (stack: Stack, fn: FunctionName, stat: string) => [
  METRICS_NAMESPACE,
  LATENCY_METRIC,
  'service',
  stack.prefix,
  'function',
  fn,
  { stat, label: `${fn} ${stat}` },
];

function rows(stack: Stack) {
  const deadLetter = stack.definitions.queues[EVENTS_QUEUE]?.deadLetter;
  return [
    [
      graph('API requests', [api('Count'), api('4xx'), api('5xx')]),
      graph('API latency (ms)', [
        api('Latency', { stat: 'p50', label: 'p50' }),
        api('Latency', { stat: 'p99', label: 'p99' }),
        api('IntegrationLatency', { stat: 'p99', label: 'integration p99' }),
      ]),
      graph(`Ingest: events (${METRICS_NAMESPACE}, function=ingest)`, FUNCTION_METRICS.ingest.map(custom(stack, 'ingest'))),
    ],
    [
      graph(
        'Lambda invocations, errors, throttles',
        QUEUE_LAMBDAS.flatMap((fn) => ['Invocations', 'Errors', 'Throttles'].map((metric) => lambda(fn, metric))),
      ),
      graph(
        'Lambda duration (ms)',
        QUEUE_LAMBDAS.flatMap((fn) => [
          lambda(fn, 'Duration', { stat: 'p50', label: `${fn} p50` }),
          lambda(fn, 'Duration', { stat: 'p99', label: `${fn} p99` }),
        ]),
      ),
      graph(`Worker: events (${METRICS_NAMESPACE}, function=worker)`, FUNCTION_METRICS.worker.map(custom(stack, 'worker'))),
    ],
    [
      graph(
        'Queue depth',
        [sqs(EVENTS_QUEUE, 'ApproximateNumberOfMessagesVisible'), sqs(EVENTS_QUEUE, 'ApproximateNumberOfMessagesNotVisible')],
        latest,
      ),
      graph('Oldest queued message (s)', [sqs(EVENTS_QUEUE, 'ApproximateAgeOfOldestMessage')], latest),
      graph('Dead-letter queue depth', deadLetter ? [sqs(deadLetter, 'ApproximateNumberOfMessagesVisible')] : [], latest),
    ],
    [
      graph(
        `${LATENCY_METRIC} (ms), per function`,
        QUEUE_FUNCTIONS.flatMap((fn) => [latency(stack, fn, 'p50'), latency(stack, fn, 'p99')]),
        { stat: 'p99' },
      ),
      graph('Events rejected, by reason (both functions)', [
        [
          {
            id: 'rejectedByReason',
            expression: `SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="EventsRejected" service="${stack.prefix}"', 'Sum', 300)`,
          },
        ],
      ]),
      graph(
        'DependencyErrors (permissions, configuration), per function',
        QUEUE_FUNCTIONS.map((fn) => [{ ...custom(stack, fn)('DependencyErrors')[0], label: fn }]),
      ),
    ],
    [graph(`Lake: files, rows, bytes, compaction (${METRICS_NAMESPACE}, function=lake)`, FUNCTION_METRICS.lake.map(custom(stack, 'lake')))],
  ];
}

export function dashboard(stack: Stack): Template {
  const grid = rows(stack);
  const widgets = [
    ...grid.flatMap((row, y) => row.map((widget, x) => ({ ...widget, x: x * 8, y: y * 6 }))),
    {
      type: 'log',
      x: 0,
      y: grid.length * 6,
      width: 24,
      height: 6,
      properties: {
        title: 'Requests refused, by status and reason (ingest and webhooks logs)',
        region: '${AWS::Region}',
        view: 'table',
        query: `${QUERIES.refused.logGroups.map((group) => `SOURCE '\${${LOG_GROUPS[group]}}' | `).join('')}${QUERIES.refused.query.replace(/\n/g, ' ')}`,
      },
    },
  ];
  return {
    Dashboard: {
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: { DashboardName: stack.prefix, DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) } },
    },
  };
}
