/**
 * translateAwsError: what the SDK and the network throw, classified once (retry, quarantine, or
 * alarm). The errors are built as the SDK and Node build them; an integration test cannot make
 * DynamoDB Local or the SQS emulator throw most of them.
 */
import { ConfigurationError, RefusedItemError, TransientError, errorCode, translateAwsError } from '../../../lib/shared/errors';
import { DeadlineError } from '../../../lib/shared/retry';

/** A Node network error as undici and the http module throw it: a generic name, the reason in `code`. */
function nodeError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:8000`), { code });
}

describe('translateAwsError', () => {
  it('passes an error already translated through as it is, so a retry loop does not wrap its own failures', () => {
    // Prepare
    const refused = new RefusedItemError('DynamoDB', 'ValidationException', 'item too large');

    // Act
    const translated = translateAwsError(refused, 'SQS', 'another reason');

    // Assess
    expect(translated).toBe(refused);
  });

  it('treats a broken connection as transient by its Node code, not by its generic name', () => {
    // Act
    const translated = translateAwsError(nodeError('ECONNRESET'), 'DynamoDB');

    // Assess
    expect(translated).toBeInstanceOf(TransientError);
    expect(translated.code).toBe('ECONNRESET');
    expect(errorCode(nodeError('ECONNRESET'))).toBe('ECONNRESET');
  });

  it('treats a wrapper error as transient when its cause is a broken connection (fetch failed: ECONNREFUSED)', () => {
    // Prepare: the shape of undici's "fetch failed", whose own name says nothing.
    const wrapped = new TypeError('fetch failed', { cause: nodeError('ECONNREFUSED') });

    // Act
    const translated = translateAwsError(wrapped, 'SQS');

    // Assess
    expect(translated).toBeInstanceOf(TransientError);
    expect(translated.cause).toBe(wrapped);
  });

  it('does not retry a wrapper error whose cause is not transient: an access problem stays a configuration error', () => {
    // Prepare
    const wrapped = Object.assign(new Error('not allowed', { cause: new Error('denied') }), { name: 'AccessDeniedException' });

    // Act
    const translated = translateAwsError(wrapped, 'DynamoDB');

    // Assess
    expect(translated).toBeInstanceOf(ConfigurationError);
    expect(translated.code).toBe('AccessDeniedException');
  });

  it('names an error without a name by its code, and an unrecognised one is a configuration error (not retried forever)', () => {
    // Prepare: a plain object thrown by some layer, with a code Node uses for a permission problem.
    const thrown = { code: 'EACCES' };

    // Act
    const translated = translateAwsError(thrown, 'DynamoDB');

    // Assess
    expect(translated).toBeInstanceOf(ConfigurationError);
    expect(translated.code).toBe('EACCES');
  });

  it('classifies a throw of nothing (undefined, null) as a configuration error named by its type, without throwing itself', () => {
    // Act
    const fromUndefined = translateAwsError(undefined, 'SQS');
    const fromNull = translateAwsError(null, 'SQS');

    // Assess
    expect(fromUndefined).toBeInstanceOf(ConfigurationError);
    expect(fromUndefined.code).toBe('undefined');
    expect(fromNull.code).toBe('object');
    expect(errorCode(undefined)).toBe('undefined');
  });

  it('refuses the item for a ValidationException, in our words, but not for one about a KMS key', () => {
    // Prepare
    const invalid = Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' });
    const kms = Object.assign(new Error('KMS key access denied'), { name: 'ValidationException' });

    // Act
    const refused = translateAwsError(invalid, 'DynamoDB', 'the item is larger than DynamoDB allows');
    const configuration = translateAwsError(kms, 'DynamoDB');

    // Assess
    expect(refused).toBeInstanceOf(RefusedItemError);
    expect((refused as RefusedItemError).reason).toBe('the item is larger than DynamoDB allows');
    expect(configuration).toBeInstanceOf(ConfigurationError);
  });

  it('retries a deadline that ran out, under the code DeadlineError', () => {
    // Act
    const translated = translateAwsError(new DeadlineError(5), 'DynamoDB');

    // Assess
    expect(translated).toBeInstanceOf(TransientError);
    expect(translated.code).toBe('DeadlineError');
  });
});
