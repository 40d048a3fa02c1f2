/**
 * The privacy policy's counts per rule (docs/privacy.md, "Metrics and cost"): metrics of the
 * request's one EMF record (`PrivacyRuleApplied.<rule>` and their sum `PrivacyRuleApplied`), not a
 * record per rule, and never a value.
 */
import { finishPrivacyRun, privacyFinisher, startPrivacyRun } from '../../../lib/ingest/privacy';
import { createMeter } from '../../../lib/shared/metrics';
import { readPrivacyPolicy } from '../../../lib/spec/privacy-policy';
import * as privacyEngine from '../../../lib/spec/privacy-engine';
import { compilePolicy } from '../../../lib/spec/privacy-rules';
import { captureStdout, type EmfLine } from '../../support/emf';

it("writes a request's counts per rule, and their sum, as metrics of its one record", () => {
  // Prepare: three events, two rules that change values and one that changes none.
  const read = readPrivacyPolicy({
    ip: 'truncate',
    fields: [
      { path: 'traits.email', action: 'hash' },
      { path: 'traits.phone', action: 'redact' },
    ],
    consent: [{ category: 'Advertising', action: 'drop' }],
  });
  if ('problems' in read) throw new Error(read.problems.join('; '));
  const compiled = compilePolicy(read.policy, { version: 1, key: 'unit-privacy-key-0123456789' });
  const run = startPrivacyRun({ compiled, engine: privacyEngine }, 32_768);
  const finish = privacyFinisher(run);
  const emails = ['a@x.example', 'b@x.example'];
  finish({ type: 'identify', userId: 'u1', traits: { email: emails[0] }, context: { ip: '203.0.113.7' } });
  finish({ type: 'identify', userId: 'u2', traits: { email: emails[1] }, context: { ip: '203.0.113.8' } });
  finish({ type: 'track', userId: 'u3', context: { ip: '203.0.113.9', consent: { categoryPreferences: { Advertising: false } } } });
  const meter = createMeter('SegmentIngest', 'segment-ingest-unit', 'ingest');

  // Act
  const lines = captureStdout(() => {
    finishPrivacyRun(run, meter, []);
    meter.count('EventsAccepted', 3);
    meter.flush();
  });

  // Assess
  const emf = lines.map((line) => JSON.parse(line) as EmfLine).filter((line) => line._aws !== undefined);
  expect(emf).toHaveLength(1);
  const [record] = emf as [EmfLine];
  expect(record._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'function']]);
  expect(record._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name).sort()).toEqual([
    'EventsAccepted',
    'PrivacyRuleApplied',
    'PrivacyRuleApplied.consent[0]',
    'PrivacyRuleApplied.fields[0]',
    'PrivacyRuleApplied.ip',
  ]);
  expect(record).toMatchObject({
    'PrivacyRuleApplied.ip': 2,
    'PrivacyRuleApplied.fields[0]': 2,
    'PrivacyRuleApplied.consent[0]': 1,
    PrivacyRuleApplied: 5,
  });
  for (const value of [...emails, '203.0.113.7']) expect(lines.join('\n')).not.toContain(value);
});
