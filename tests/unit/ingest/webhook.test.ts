/**
 * The webhook signature check (docs/spec.md section 3): HMAC-SHA1 of what Segment may have signed, under
 * the current secret or the previous one during its grace period, compared in constant time over
 * every pair. tests/conformance/section-3-auth.test.ts covers the route end to end.
 */
import crypto from 'node:crypto';
import { acceptedSecrets, signWebhookPayload, verifyWebhookSignature } from '../../../lib/ingest/webhook';

afterEach(() => jest.restoreAllMocks());

describe('signWebhookPayload', () => {
  it('is the lowercase hex HMAC-SHA1 of the payload, the same for its text and its bytes', () => {
    const body = '{"type":"track","event":"Übersicht"}';
    const expected = crypto.createHmac('sha1', 'secret').update(Buffer.from(body, 'utf8')).digest('hex');

    expect(signWebhookPayload('secret', body)).toBe(expected);
    expect(signWebhookPayload('secret', Buffer.from(body))).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('verifyWebhookSignature', () => {
  const body = '[{"type":"track","event":"A"},{"type":"track","event":"B"}]';
  const first = '{"type":"track","event":"A"}';

  it('accepts a signature over any of the payloads, under any of the secrets', () => {
    const payloads = [body, first];

    expect(verifyWebhookSignature(signWebhookPayload('new', body), ['new', 'old'], payloads)).toBe(true);
    expect(verifyWebhookSignature(signWebhookPayload('old', first), ['new', 'old'], payloads)).toBe(true);
  });

  it('refuses a signature under another secret, over another payload, or with no secret at all', () => {
    expect(verifyWebhookSignature(signWebhookPayload('other', body), ['new', 'old'], [body, first])).toBe(false);
    expect(verifyWebhookSignature(signWebhookPayload('new', `${body} `), ['new'], [body, first])).toBe(false);
    expect(verifyWebhookSignature(signWebhookPayload('new', body), [], [body])).toBe(false);
    expect(verifyWebhookSignature(signWebhookPayload('new', body).slice(0, 39), ['new'], [body])).toBe(false);
  });

  it('computes and compares every secret and payload pair in constant time, even after a match', () => {
    // Prepare: the signature matches the very first pair, so an early exit would stop at one.
    const hmacs = jest.spyOn(crypto, 'createHmac');
    const compares = jest.spyOn(crypto, 'timingSafeEqual');
    const signature = signWebhookPayload('new', body);
    hmacs.mockClear();

    // Act
    const verdict = verifyWebhookSignature(signature, ['new', 'old'], [body, Buffer.from(body), first]);

    // Assess
    expect(verdict).toBe(true);
    expect(hmacs).toHaveBeenCalledTimes(6);
    expect(compares).toHaveBeenCalledTimes(6);
  });
});

describe('acceptedSecrets', () => {
  const at = Date.parse('2026-03-01T12:00:00.000Z');

  it('accepts the current secret alone when there was no rotation', () => {
    expect(acceptedSecrets({ sourceId: 's', webhookSecret: 'new' }, at)).toEqual(['new']);
  });

  it('accepts the previous secret too while its grace period lasts, the current one first', () => {
    const source = {
      sourceId: 's',
      webhookSecret: 'new',
      previousWebhookSecret: 'old',
      previousWebhookSecretExpiresAt: '2026-03-01T12:00:00.001Z',
    };

    expect(acceptedSecrets(source, at)).toEqual(['new', 'old']);
  });

  it('drops the previous secret once its grace period has ended, or when it has no readable end', () => {
    const rotated = { sourceId: 's', webhookSecret: 'new', previousWebhookSecret: 'old' };

    expect(acceptedSecrets({ ...rotated, previousWebhookSecretExpiresAt: '2026-03-01T12:00:00.000Z' }, at)).toEqual(['new']);
    expect(acceptedSecrets({ ...rotated, previousWebhookSecretExpiresAt: '2026-02-01T00:00:00.000Z' }, at)).toEqual(['new']);
    expect(acceptedSecrets({ ...rotated, previousWebhookSecretExpiresAt: 'soon' }, at)).toEqual(['new']);
    expect(acceptedSecrets(rotated, at)).toEqual(['new']);
  });

  it('accepts nothing from a source without a secret', () => {
    expect(acceptedSecrets({ sourceId: 's' }, at)).toEqual([]);
  });
});
