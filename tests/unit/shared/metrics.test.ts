/**
 * The EMF lines Powertools writes for our meter: every series carries the `service` and
 * `function` dimensions, so the two functions' latencies and counts are separate CloudWatch series.
 */
import { createMeter } from '../../../lib/shared/metrics';
import { captureEmf } from '../../support/emf';

describe('createMeter', () => {
  it.each(['ingest', 'worker'] as const)('writes every %s series with the service and function dimensions', (fn) => {
    // Prepare
    const meter = createMeter('SegmentIngest', 'segment-ingest-unit', fn);

    // Act
    const lines = captureEmf(() => {
      meter.count('EventsAccepted', 3);
      meter.count('DependencyErrors', 1, ['kind', 'configuration']);
      meter.latency(12);
      meter.flush();
    });

    // Assess
    const byMetric = new Map(lines.flatMap((line) => line._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, line] as const)));
    expect([...byMetric.keys()].sort()).toEqual(['DependencyErrors', 'EventsAccepted', 'HandlerLatency']);
    for (const [name, line] of byMetric) {
      const dimensions = line._aws.CloudWatchMetrics[0]!.Dimensions;
      expect({ name, dimensions }).toEqual({
        name,
        dimensions: [name === 'DependencyErrors' ? ['service', 'function', 'kind'] : ['service', 'function']],
      });
      expect(line).toMatchObject({ service: 'segment-ingest-unit', function: fn });
    }
    expect(byMetric.get('HandlerLatency')).toMatchObject({ HandlerLatency: 12 });
    expect(byMetric.get('DependencyErrors')).toMatchObject({ kind: 'configuration', DependencyErrors: 1 });
  });

  it("writes the lake's byte count in bytes and its other counts as counts", () => {
    // Prepare
    const meter = createMeter('SegmentIngest', 'segment-ingest-unit', 'lake');

    // Act
    const lines = captureEmf(() => {
      meter.count('LakeBytesWritten', 2048);
      meter.count('LakeRowsWritten', 10);
      meter.flush();
    });

    // Assess
    const units = Object.fromEntries(lines.flatMap((line) => line._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, m.Unit])));
    expect(units).toEqual({ LakeBytesWritten: 'Bytes', LakeRowsWritten: 'Count' });
    expect(lines[0]).toMatchObject({ function: 'lake', LakeBytesWritten: 2048, LakeRowsWritten: 10 });
  });
});
