/**
 * CloudWatch metrics through Powertools, as EMF in the function's log. Counts are added up during
 * an invocation and written once at its end (`flush`), so a batch of 1000 events costs one log line
 * per metric series, not one per event.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Every metric the service emits; the dashboard in infra/cloudformation.js draws these names. */
export type MetricName =
  | 'EventsAccepted'
  | 'EventsRejected'
  | 'EnqueueRetries'
  | 'EnqueueFailures'
  | 'EventsStored'
  | 'WriteRetries'
  | 'QuarantinedRecords'
  | 'Erasures'
  /** Events that break their source's tracking plan, warned or blocked (dimension `kind`: schema, unplanned). */
  | 'PlanViolations'
  /** AWS refused a request for a configuration or permission reason (dimension `kind`); alarmed. */
  | 'DependencyErrors';

export interface Meter {
  /** Adds `value` to a count, optionally in one series of a dimension (`reason`, `type`). */
  count(name: MetricName, value: number, dimension?: readonly [name: string, value: string]): void;
  /** Records the handler's latency for this invocation. */
  latency(ms: number): void;
  /** Writes what was counted since the last flush. */
  flush(): void;
}

export const noMeter: Meter = { count() {}, latency() {}, flush() {} };

export function createMeter(namespace: string, serviceName: string): Meter {
  const metrics = new Metrics({ namespace, serviceName });
  let counts = new Map<string, { name: MetricName; value: number; dimension?: readonly [string, string] }>();
  let latencies: number[] = [];

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
          const single = metrics.singleMetric();
          single.addDimension(dimension[0], dimension[1]);
          single.addMetric(name, MetricUnit.Count, value);
        } else {
          metrics.addMetric(name, MetricUnit.Count, value);
        }
      }
      for (const ms of latencies) metrics.addMetric('HandlerLatency', MetricUnit.Milliseconds, ms);
      metrics.publishStoredMetrics();
      counts = new Map();
      latencies = [];
    },
  };
}
