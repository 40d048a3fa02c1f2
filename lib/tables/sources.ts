/**
 * Sources and their keys as the `sources` and `keys` tables hold them
 * (docs/data-model.md#sources-and-keys): read by the ingest function (lib/ingest/auth.ts), written
 * by the administration (lib/admin/sources.ts). A key is only ever stored as its SHA-256 hash.
 */
import { createHash } from 'node:crypto';

export interface SourceRecord {
  sourceId: string;
  name?: string;
  disabled?: boolean;
  /** Events per second each function instance accepts from this source before answering 429. */
  rateLimitPerSecond?: number;
  /** Shared secret for Webhooks `X-Signature`; stored as is, since an HMAC needs it. */
  webhookSecret?: string;
  webhookSecretSetAt?: string;
  /**
   * The secret before the last rotation, still accepted until `previousWebhookSecretExpiresAt`
   * (ISO-8601): Segment keeps signing with it until its settings are changed, and retries what
   * it signed with it for up to four hours.
   */
  previousWebhookSecret?: string;
  previousWebhookSecretExpiresAt?: string;
  /**
   * Browser origins that may send with this source's keys (normalised by `parseAllowedOrigin` in
   * origins.ts). Absent: every origin; empty: none. Requests without an `Origin` header (servers,
   * SDKs) are never refused by it.
   */
  allowedOrigins?: string[];
  /**
   * `false` when the source's Webhooks destination has batching off: only a signature over the
   * whole body counts then. Absent or `true`: a signature over an array's first element (what
   * Segment signs when it batches) is accepted too, but covers a `delete` only when that first
   * element is the delete itself (lib/ingest/webhook.ts).
   */
  webhookBatching?: boolean;
  /**
   * The source's tracking plan as JSON text (lib/spec/tracking-plan.ts), its version (a hash of
   * the text: plans are compiled once per version) and when it was set; written by
   * lib/admin/tracking-plans.ts, checked at ingest by lib/ingest/plan-checks.ts.
   */
  trackingPlan?: string;
  trackingPlanVersion?: string;
  trackingPlanSetAt?: string;
  /**
   * The source's privacy policy as JSON text (lib/spec/privacy-policy.ts), its version (a hash of
   * the text) and when it was set; written by lib/admin/privacy-policies.ts, applied at ingest by
   * lib/ingest/privacy.ts.
   */
  privacyPolicy?: string;
  privacyPolicyVersion?: string;
  privacyPolicySetAt?: string;
  createdAt?: string;
}

/**
 * What a key may do (docs/keys-and-scopes.md). `events`: send events on every event route, never a
 * `delete`; such a key may sit in a web page, where anyone can read it. `destination`: events and
 * `delete` too, for Segment's Direct and Actions destinations, which forward erasure requests.
 */
export const KEY_SCOPES = ['events', 'destination'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** How a key without a recorded scope (created before scopes existed) is named; it keeps every power it had. */
export const UNSCOPED = 'unscoped';

export interface KeyRecord {
  keyHash: string;
  sourceId: string;
  keyPrefix: string;
  createdAt: string;
  revokedAt?: string;
  /** Absent on keys created before scopes existed: `UNSCOPED`, which may still erase. */
  scope?: KeyScope;
}

/** The key's scope as the CLI and the answers name it. */
export function scopeOf(record: Pick<KeyRecord, 'scope'>): KeyScope | typeof UNSCOPED {
  return record.scope ?? UNSCOPED;
}

/** True when the key may send a `delete`: destination keys, and unscoped ones (which always could). */
export function keyMayErase(record: Pick<KeyRecord, 'scope'>): boolean {
  return record.scope !== 'events';
}

export function isKeyScope(value: unknown): value is KeyScope {
  return (KEY_SCOPES as readonly unknown[]).includes(value);
}

/** Hex SHA-256 of a key: the only form in which a key is ever stored. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function keyPrefix(key: string): string {
  return key.slice(0, 7);
}
