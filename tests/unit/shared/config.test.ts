import {
  EVENT_ENVELOPE_BYTES,
  LAMBDA_PAYLOAD_BYTES,
  MAX_BASE64_BODY_BYTES,
  MAX_STORABLE_EVENT_BYTES,
  MAX_TEXT_BODY_BYTES,
  loadConfig,
} from '../../../lib/shared/config';
import { ConfigError } from '../../../lib/shared/errors';
import { credentialsFromHeader } from '../../../lib/ingest/auth';
import { generateKey } from '../../../lib/admin/sources';
import { hashKey } from '../../../lib/tables/sources';

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

describe('request-size limits against Lambda and DynamoDB', () => {
  it('accepts the defaults and limits right at the ceilings', () => {
    // Act
    const config = loadConfig({ MAX_REQUEST_BYTES: String(MAX_TEXT_BODY_BYTES), MAX_EVENT_BYTES: String(MAX_STORABLE_EVENT_BYTES) });

    // Assess
    expect(config.limits.maxRequestBytes).toBe(5_563_276);
    expect(config.limits.maxEventBytes).toBe(262_144);
  });

  it('keeps a text body at the request limit inside the 6 MB Lambda event, with its escaping and the envelope', () => {
    // Prepare: a body of MAX_TEXT_BODY_BYTES with one quote in eight bytes, as API Gateway would deliver it.
    const body = '"xxxxxxx'.repeat(Math.floor(MAX_TEXT_BODY_BYTES / 8)).padEnd(MAX_TEXT_BODY_BYTES, ' ');
    const envelope = EVENT_ENVELOPE_BYTES;

    // Act
    const eventBytes = Buffer.byteLength(JSON.stringify(body)) + envelope;
    const base64Bytes = Math.ceil(MAX_BASE64_BODY_BYTES / 3) * 4 + envelope;

    // Assess
    expect(Buffer.byteLength(body)).toBe(MAX_TEXT_BODY_BYTES);
    expect(eventBytes).toBeLessThanOrEqual(LAMBDA_PAYLOAD_BYTES);
    expect(base64Bytes).toBeLessThanOrEqual(LAMBDA_PAYLOAD_BYTES);
    expect(LAMBDA_PAYLOAD_BYTES).toBe(6_291_456);
  });

  it.each(['MAX_REQUEST_BYTES', 'MAX_BATCH_BYTES'])('refuses a %s that Lambda cannot be handed, naming it', (name) => {
    // Act
    const act = () => loadConfig({ [name]: String(MAX_TEXT_BODY_BYTES + 1), MAX_REQUEST_BYTES: String(MAX_TEXT_BODY_BYTES + 1) });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(
      new RegExp(`${name} \\(${MAX_TEXT_BODY_BYTES + 1}\\) must be at most ${MAX_TEXT_BODY_BYTES}: API Gateway hands the body to Lambda`),
    );
  });

  it('refuses a MAX_EVENT_BYTES whose events could outgrow a DynamoDB item', () => {
    expect(() => loadConfig({ MAX_EVENT_BYTES: String(MAX_STORABLE_EVENT_BYTES + 1) })).toThrow(
      `MAX_EVENT_BYTES (262145) must be at most 262144: an event stored as DynamoDB attributes may take 1.5x its JSON size, plus 16384 bytes of keys and attributes, and an item holds at most 409600 bytes`,
    );
  });
});

describe('event retention and table overrides', () => {
  it('keeps events for ever unless EVENT_RETENTION_DAYS is set', () => {
    expect(loadConfig({}).eventRetentionDays).toBe(0);
    expect(loadConfig({ EVENT_RETENTION_DAYS: '' }).eventRetentionDays).toBe(0);
    expect(loadConfig({ EVENT_RETENTION_DAYS: '0' }).eventRetentionDays).toBe(0);
    expect(loadConfig({ EVENT_RETENTION_DAYS: '90' }).eventRetentionDays).toBe(90);
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: '-1' })).toThrow(
      'EVENT_RETENTION_DAYS must be a whole number from 0 to 36500, got "-1"',
    );
  });

  it('points a stage at the tables TABLE_OVERRIDES names, the others keeping their names', () => {
    // Act
    const config = loadConfig({ STAGE: 'prod', TABLE_OVERRIDES: 'track=segment-ingest-prod-track-restored, keys = old.keys_table' });

    // Assess
    expect(config.tables.track).toBe('segment-ingest-prod-track-restored');
    expect(config.tables.keys).toBe('old.keys_table');
    expect(config.tables.page).toBe('segment-ingest-prod-page');
  });

  it('refuses overrides of unknown tables and names DynamoDB would refuse', () => {
    expect(() => loadConfig({ TABLE_OVERRIDES: 'tracks=x-y-z,page=a b,group=ok-name' })).toThrow(
      'invalid configuration: TABLE_OVERRIDES names an unknown table "tracks" in "tracks=x-y-z"; tables are identify, track, page, screen, group, alias, rejected, sources, keys, erasures, schemas, profiles; TABLE_OVERRIDES entry "page=a b" must be <table>=<DynamoDB table name> (3-255 letters, digits, _ . -)',
    );
  });
});

describe('loadConfig PROFILES', () => {
  it('keeps profiles by default; PROFILES=false turns them off', () => {
    expect(loadConfig({}).profiles).toBe(true);
    expect(loadConfig({ PROFILES: 'false' }).profiles).toBe(false);
    expect(() => loadConfig({ PROFILES: 'no' })).toThrow('PROFILES must be true or false, got "no"');
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
