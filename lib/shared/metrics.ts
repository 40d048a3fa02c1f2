/**
 * CloudWatch metrics through Powertools, as EMF in the function's log. Counts are added up during
 * an invocation and written once at its end (`flush`), so a batch of 1000 events costs one log line
 * per metric series, not one per event.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The CloudWatch namespace of every metric of the service (POWERTOOLS_METRICS_NAMESPACE; the dashboard and alarms in infra/). */
export const METRICS_NAMESPACE = 'SegmentIngest';

/**
 * Every count the service emits. The dashboard (infra/dashboard.ts) draws each of them on the
 * series of the functions `FUNCTION_METRICS` names (tests/deploy checks both against the code).
 */
export const COUNT_METRICS = [
  'EventsAccepted',
  'EventsRejected',
  'EnqueueRetries',
  'EnqueueFailures',
  'EventsStored',
  'WriteRetries',
  'QuarantinedRecords',
  'Erasures',
  /** Events that break their source's tracking plan, warned or blocked (dimension `kind`: schema, unplanned). */
  'PlanViolations',
  /**
   * Values a source's privacy policy changed, or events its consent rules withheld, all rules together;
   * each rule's own count is `PrivacyRuleApplied.<rule>` (`RuleMetricName`).
   */
  'PrivacyRuleApplied',
  /** A request AWS refused for a configuration or permission reason (dimension `kind`: `configuration`). */
  'DependencyErrors',
  /**
   * Profile writes DynamoDB refused (lib/worker/profiles/phase.ts): their messages are retried, never
   * dropped; a trait's name and value caps keep every fact item to a few KB, so any is a bug (alarm, runbook).
   */
  'ProfileWritesRefused',
  /** An error that is no AWS service's answer (a bug: a TypeError, a broken invariant); lib/shared/unexpected.ts. */
  'UnexpectedErrors',
  /** The lake's stream function (dimension `function`: `lake`): Parquet files, their rows and bytes (docs/lake.md). */
  'LakeFilesWritten',
  'LakeRowsWritten',
  'LakeBytesWritten',
  /** The lake's compaction: files replaced (merged or rewritten without erased rows), and rows erased from them. */
  'LakeFilesCompacted',
  'LakeRowsErased',
] as const;
/**
 * A count per privacy rule (`PrivacyRuleApplied.fields[0]`, `.ip`, `.keys[1]`, `.consent[0]`): the
 * rule is in the name, not a dimension, so the rules a request applied are metrics of the
 * invocation's one record (a dimension value would cost a record each; docs/privacy.md).
 */
export type RuleMetricName = `PrivacyRuleApplied.${string}`;
export type MetricName = (typeof COUNT_METRICS)[number] | RuleMetricName;

/** Each invocation's handler time, in milliseconds. */
export const LATENCY_METRIC = 'HandlerLatency';

/** Counts that are not of things but of bytes, so CloudWatch shows them in bytes. */
const UNITS: Partial<Record<MetricName, (typeof MetricUnit)[keyof typeof MetricUnit]>> = { LakeBytesWritten: MetricUnit.Bytes };

/** The functions, as the `function` dimension of every metric names them (the lake's stream and compaction handlers are both `lake`). */
export type FunctionName = 'ingest' | 'worker' | 'lake';

/**
 * The counts each function emits, in the order its dashboard graph lists them. Both the ingest
 * function and the worker also emit `LATENCY_METRIC`. The lake's are drawn whether the stage has
 * the lake or not (a stage without it draws empty lines).
 */
export const FUNCTION_METRICS: Record<FunctionName, readonly MetricName[]> = {
  ingest: [
    'EventsAccepted',
    'EventsRejected',
    'EnqueueRetries',
    'EnqueueFailures',
    'PlanViolations',
    'PrivacyRuleApplied',
    'DependencyErrors',
    'UnexpectedErrors',
  ],
  worker: [
    'EventsStored',
    'WriteRetries',
    'QuarantinedRecords',
    'Erasures',
    'EventsRejected',
    'DependencyErrors',
    'UnexpectedErrors',
    'ProfileWritesRefused',
  ],
  lake: ['LakeFilesWritten', 'LakeRowsWritten', 'LakeBytesWritten', 'LakeFilesCompacted', 'LakeRowsErased'],
};

export interface Meter {
  /**
   * Adds `value` to a count, optionally in one series of a dimension (`reason`, `type`). Counts
   * without a dimension share one record per flush; each dimension value is a record of its own.
   */
  count(name: MetricName, value: number, dimension?: readonly [name: string, value: string]): void;
  /** Records the handler's latency for this invocation. */
  latency(ms: number): void;
  /** Writes what was counted since the last flush. */
  flush(): void;
}

export const noMeter: Meter = { count() {}, latency() {}, flush() {} };

/**
 * Metrics of one function: every series has the dimensions `service` (one per stage) and
 * `function`, so the two functions' latencies and counts never add up into one series.
 */
export function createMeter(namespace: string, serviceName: string, functionName: FunctionName): Meter {
  const metrics = new Metrics({ namespace, serviceName, defaultDimensions: { function: functionName } });
  let counts = new Map<string, { name: MetricName; value: number; dimension?: readonly [string, string] }>();
  let latencies: number[] = [];
  // One single-metric instance for every dimensioned count: Powertools builds a new Metrics (a new
  // Console, the environment read again) per `singleMetric()`, about 90 µs, where a record costs 10;
  // a single-metric instance writes its record at `addMetric` and clears the added dimension then.
  let dimensioned: Metrics | undefined;

  return {
    count(name, value, dimension) {
      if (value === 0) return;
      const key = dimension ? `${name}\u0000${dimension[0]}\u0000${dimension[1]}` : name;
      const entry = counts.get(key);
      if (entry) entry.value += value;
      else counts.set(key, { name, value, dimension });
    },
    latency(ms) {
      latencies.push(ms);
    },
    flush() {
      if (counts.size === 0 && latencies.length === 0) return;
      for (const { name, value, dimension } of counts.values()) {
        if (dimension) {
          const single = (dimensioned ??= metrics.singleMetric());
          single.addDimension(dimension[0], dimension[1]);
          single.addMetric(name, UNITS[name] ?? MetricUnit.Count, value);
        } else {
          metrics.addMetric(name, UNITS[name] ?? MetricUnit.Count, value);
        }
      }
      for (const ms of latencies) metrics.addMetric(LATENCY_METRIC, MetricUnit.Milliseconds, ms);
      metrics.publishStoredMetrics();
      counts = new Map();
      latencies = [];
    },
  };
}
