import { loadConfig } from '../../../lib/shared/config';
import { credentialsFromHeader } from '../../../lib/ingest/auth';
import { generateKey } from '../../../lib/admin/sources';
import { hashKey } from '../../../lib/shared/source-records';

describe('loadConfig', () => {
  it('has the SPEC defaults and derives table names from the stage', () => {
    const config = loadConfig({ STAGE: 'prod' });
    expect(config.limits).toEqual({
      maxEventBytes: 32768,
      maxBatchBytes: 512000,
      maxBatchEvents: 2500,
      maxWebhookEvents: 4000,
      maxRequestBytes: 5242880,
    });
    expect(config.tables.track).toBe('segment-ingest-prod-track');
    expect(config.tables.rejected).toBe('segment-ingest-prod-rejected');
    expect(config.keyCacheSeconds).toBe(60);
  });

  it('lists every problem at once', () => {
    expect(() => loadConfig({ STAGE: 'no spaces', MAX_EVENT_BYTES: 'lots', SQS_ENDPOINT: 'nope' })).toThrow(
      'invalid configuration: STAGE must be letters, digits and dashes, got "no spaces"; SQS_ENDPOINT must be a URL, got "nope"; MAX_EVENT_BYTES must be a whole number from 1024 to 409600, got "lots"',
    );
  });
});

describe('loadConfig time budgets', () => {
  it("defaults to a 4 s request within Segment's 5 s, of which 3 s for the queue and 1 s per lookup", () => {
    expect(loadConfig({})).toMatchObject({
      requestBudgetMs: 4000,
      enqueueBudgetMs: 3000,
      lookupTimeoutMs: 1000,
      functionTimeoutMs: undefined,
    });
  });

  it('refuses at cold start budgets that do not fit the function timeout or each other', () => {
    expect(() => loadConfig({ FUNCTION_TIMEOUT_SECONDS: '3', REQUEST_BUDGET_MS: '4000' })).toThrow(
      'REQUEST_BUDGET_MS (4000) plus 500 ms to answer must fit in the function timeout (FUNCTION_TIMEOUT_SECONDS 3)',
    );
    expect(() => loadConfig({ ENQUEUE_BUDGET_MS: '5000', REQUEST_BUDGET_MS: '4000' })).toThrow(
      'ENQUEUE_BUDGET_MS (5000) must not exceed REQUEST_BUDGET_MS (4000)',
    );
    expect(() => loadConfig({ LOOKUP_TIMEOUT_MS: '3000' })).toThrow('LOOKUP_TIMEOUT_MS (3000) must leave room in REQUEST_BUDGET_MS');
    expect(loadConfig({ FUNCTION_TIMEOUT_SECONDS: '10' }).functionTimeoutMs).toBe(10_000);
  });
});

describe('loadConfig PROFILE_ACTIVITY', () => {
  it('keeps profile activity by default, and reads true/false, 1/0', () => {
    expect(loadConfig({}).profileActivity).toBe(true);
    expect(loadConfig({ PROFILE_ACTIVITY: 'false' }).profileActivity).toBe(false);
    expect(loadConfig({ PROFILE_ACTIVITY: '0' }).profileActivity).toBe(false);
    expect(loadConfig({ PROFILE_ACTIVITY: 'TRUE' }).profileActivity).toBe(true);
  });

  it('refuses anything else at cold start', () => {
    expect(() => loadConfig({ PROFILE_ACTIVITY: 'off' })).toThrow('PROFILE_ACTIVITY must be true or false, got "off"');
  });
});

describe('keys', () => {
  it('generates distinct 43-character keys', () => {
    const keys = new Set(Array.from({ length: 100 }, generateKey));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^sk_[A-Za-z0-9]{40}$/);
  });

  it('hashes with SHA-256', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('reads Basic (password ignored) and Bearer credentials', () => {
    expect(credentialsFromHeader(`Basic ${Buffer.from('key1:').toString('base64')}`)).toEqual({ kind: 'key', key: 'key1' });
    expect(credentialsFromHeader(`basic ${Buffer.from('key2:whatever').toString('base64')}`)).toEqual({ kind: 'key', key: 'key2' });
    expect(credentialsFromHeader('Bearer key3')).toEqual({ kind: 'key', key: 'key3' });
    expect(credentialsFromHeader(undefined)).toEqual({ kind: 'none' });
  });
});
