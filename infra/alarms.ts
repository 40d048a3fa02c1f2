/**
 * The alarms, all published to one SNS topic (with an email subscription when the stage sets
 * `alarmEmail`). docs/operations.md has a runbook for each (tests/deploy checks it): an alarm
 * added here needs one there.
 */
import { type FunctionName, LATENCY_METRIC, METRICS_NAMESPACE, type MetricName } from '../lib/shared/metrics';
import { EVENTS_QUEUE, functionId, queueId, ref, type Stack, type Template } from './settings';

type Alarm = (name: string, description: string, metric: Template, threshold: number) => Template;

/** An alarm of the stage firing above `threshold`; `metric`: Namespace, MetricName, Dimensions, Statistic and, where not 60 s, Period. */
function alarmOf(stack: Stack): Alarm {
  const topic = ref('AlarmTopic');
  return (name, description, metric, threshold) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${stack.prefix}-${name}`,
      AlarmDescription: description,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: threshold,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
      Period: 60,
      EvaluationPeriods: 1,
      ...metric,
    },
  });
}

const lambda = (fn: string, metricName: string): Template => ({
  Namespace: 'AWS/Lambda',
  MetricName: metricName,
  Dimensions: [{ Name: 'FunctionName', Value: ref(functionId(fn)) }],
  Statistic: 'Sum',
  Period: 300,
});

const sqs = (queue: string, metricName: string): Template => ({
  Namespace: 'AWS/SQS',
  MetricName: metricName,
  Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(queue), 'QueueName'] } }],
  Statistic: 'Maximum',
});

export function alarms(stack: Stack): Template {
  const { settings, prefix } = stack;
  const alarm = alarmOf(stack);
  const deadLetter = stack.definitions.queues[EVENTS_QUEUE]?.deadLetter;
  return {
    AlarmTopic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: `${prefix}-alarms`, DisplayName: `${prefix} alarms` } },
    ...(settings.alarmEmail
      ? {
          AlarmEmailSubscription: {
            Type: 'AWS::SNS::Subscription',
            Properties: { TopicArn: ref('AlarmTopic'), Protocol: 'email', Endpoint: settings.alarmEmail },
          },
        }
      : {}),
    ...(deadLetter
      ? {
          DeadLetterNotEmptyAlarm: alarm(
            'dead-letter-not-empty',
            'Messages the worker failed repeatedly wait in the dead-letter queue: find the cause, then redrive them',
            sqs(deadLetter, 'ApproximateNumberOfMessagesVisible'),
            0,
          ),
        }
      : {}),
    QueueAgeAlarm: alarm(
      'queue-age',
      `The oldest queued event has waited over ${settings.queueAgeAlarmSeconds} s: the worker is failing, throttled or too slow`,
      { ...sqs(EVENTS_QUEUE, 'ApproximateAgeOfOldestMessage'), EvaluationPeriods: 5 },
      settings.queueAgeAlarmSeconds,
    ),
    ApiServerErrorsAlarm: alarm(
      'api-5xx',
      'The API answered 5xx: Segment retries, but the ingest path is failing',
      {
        Namespace: 'AWS/ApiGateway',
        MetricName: '5xx',
        Dimensions: [{ Name: 'ApiId', Value: ref('HttpApi') }],
        Statistic: 'Sum',
        Period: 300,
      },
      0,
    ),
    IngestErrorsAlarm: alarm('ingest-errors', 'The ingest function crashed or timed out', lambda('ingest', 'Errors'), 0),
    IngestThrottlesAlarm: alarm('ingest-throttles', 'The ingest function was throttled', lambda('ingest', 'Throttles'), 0),
    WebhooksErrorsAlarm: alarm(
      'webhooks-errors',
      'The webhooks function (the Webhooks route) crashed or timed out',
      lambda('webhooks', 'Errors'),
      0,
    ),
    WebhooksThrottlesAlarm: alarm(
      'webhooks-throttles',
      'The webhooks function (the Webhooks route) was throttled',
      lambda('webhooks', 'Throttles'),
      0,
    ),
    WorkerErrorsAlarm: alarm('worker-errors', 'The worker function crashed or timed out', lambda('worker', 'Errors'), 0),
    WorkerThrottlesAlarm: alarm('worker-throttles', 'The worker function was throttled', lambda('worker', 'Throttles'), 0),
    ...customAlarms(stack, alarm),
  };
}

/**
 * Alarms on the service's own metrics, each on one function's series (dimensions `service` and
 * `function`, as lib/shared/metrics.ts writes them). The `ingest` and `webhooks` functions run the
 * same code, which meters as `function=ingest`: one series, so each `ingest` alarm covers both.
 */
function customAlarms(stack: Stack, alarm: Alarm): Template {
  const { settings, prefix } = stack;
  const custom = (
    fn: FunctionName,
    metricName: MetricName | typeof LATENCY_METRIC,
    extra: Array<{ Name: string; Value: string }> = [],
    statistic: Record<string, string> = { Statistic: 'Sum' },
  ): Template => ({
    Namespace: METRICS_NAMESPACE,
    MetricName: metricName,
    Dimensions: [{ Name: 'service', Value: prefix }, { Name: 'function', Value: fn }, ...extra],
    ...statistic,
    Period: 300,
  });
  const configuration = [{ Name: 'kind', Value: 'configuration' }];
  const quarantineThreshold = settings.quarantineAlarmThreshold ?? 100;
  const latencyThreshold = settings.ingestLatencyAlarmMs ?? 2000;
  return {
    IngestDependencyErrorsAlarm: alarm(
      'ingest-dependency-errors',
      'AWS refused the ingest function a request for a permission or configuration reason (access, credentials, a missing queue or table, KMS): senders get 503 until it is fixed',
      custom('ingest', 'DependencyErrors', configuration),
      0,
    ),
    WorkerDependencyErrorsAlarm: alarm(
      'worker-dependency-errors',
      'AWS refused the worker a request for a permission or configuration reason (access, credentials, a missing table, KMS): events wait in the queue, then the dead-letter queue',
      custom('worker', 'DependencyErrors', configuration),
      0,
    ),
    IngestUnexpectedErrorsAlarm: alarm(
      'ingest-unexpected-errors',
      'The ingest function hit an error no AWS service answered with (a bug): senders get 503; the log has its stack',
      custom('ingest', 'UnexpectedErrors'),
      0,
    ),
    WorkerUnexpectedErrorsAlarm: alarm(
      'worker-unexpected-errors',
      'The worker hit an error no AWS service answered with (a bug): its messages are retried, then dead-lettered; the log has its stack',
      custom('worker', 'UnexpectedErrors'),
      0,
    ),
    ProfileWritesRefusedAlarm: alarm(
      'profile-writes-refused',
      'DynamoDB refused a profile write (lib/worker/profiles/): its messages are retried, then dead-lettered; the log names the reason',
      custom('worker', 'ProfileWritesRefused'),
      0,
    ),
    QuarantineSpikeAlarm: alarm(
      'quarantine-spike',
      `Over ${quarantineThreshold} events were quarantined in 5 minutes: a sender's tracking probably changed`,
      custom('worker', 'QuarantinedRecords'),
      quarantineThreshold,
    ),
    IngestLatencyAlarm: alarm(
      'ingest-latency',
      `The ingest function's p99 handler time was over ${latencyThreshold} ms for 10 minutes: Segment waits 5-10 s, then retries (duplicates) or gives up`,
      { ...custom('ingest', LATENCY_METRIC, [], { ExtendedStatistic: 'p99' }), EvaluationPeriods: 2 },
      latencyThreshold,
    ),
  };
}
