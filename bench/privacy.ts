/**
 * A ten-rule privacy policy for the benchmark (docs/privacy.md), on the fields the bench's events
 * carry (bench/fixtures.ts): the IP truncated, the userId, emails and names hashed, page URLs'
 * query parameters redacted, the Red key list and a custom matcher walking every event, and a
 * consent rule that no bench event triggers (it is checked on each). Every event is accepted.
 */
import type { PrivacyPolicy } from '../lib/spec/privacy-policy';

export function benchPrivacyPolicy(): PrivacyPolicy {
  return {
    ip: 'truncate',
    fields: [
      { path: 'userId', action: 'hash' },
      { path: 'traits.email', action: 'hash' },
      { path: 'traits.name', action: 'sha256_for_ad_matching' },
      { path: 'context.page.url', action: 'redact_query', params: ['utm_source', 'ref'] },
      { path: 'context.page.search', action: 'redact_query', params: ['utm_source', 'ref'] },
      { path: 'properties.*.card', action: 'drop' },
    ],
    keys: [
      { preset: 'segment-red', action: 'drop' },
      { names: ['*secret*'], action: 'redact' },
    ],
    consent: [{ category: 'Advertising', action: 'drop' }],
  };
}
