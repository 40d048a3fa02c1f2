/**
 * The one door of AWS calls (lib/shared/aws-call.ts): what an SDK call throws is translated, a
 * bug leaves as itself, a conditional failure as the SDK threw it, and our own out-of-time is a
 * DeadlineError. The errors are built as the SDK builds them: an emulator cannot throw a bug of ours.
 */
import { awsCall } from '../../../lib/shared/aws-call';
import { ConfigurationError, TransientError, isAwsError } from '../../../lib/shared/errors';
import { DeadlineError } from '../../../lib/shared/retry';

const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode: status } });

describe('awsCall', () => {
  it('translates what the service answered, and counts the request', async () => {
    // Prepare
    const counter = { requests: 0 };

    // Act
    const call = awsCall({ service: 'DynamoDB', counter }, () => Promise.reject(sdkError('AccessDeniedException', 400)));

    // Assess
    await expect(call).rejects.toBeInstanceOf(ConfigurationError);
    await expect(call).rejects.toMatchObject({ code: 'AccessDeniedException', service: 'DynamoDB' });
    expect(counter.requests).toBe(1);
  });

  it('lets a TypeError of ours leave as itself: a bug is never called a configuration problem', async () => {
    // Prepare
    const bug = new TypeError("Cannot read properties of undefined (reading 'Items')");

    // Act
    const call = awsCall({ service: 'DynamoDB' }, () => Promise.reject(bug));

    // Assess
    await expect(call).rejects.toBe(bug);
    expect(isAwsError(bug)).toBe(false);
  });

  it('passes a failed condition through untranslated: the caller asked for it', async () => {
    // Prepare
    const conditional = sdkError('ConditionalCheckFailedException', 400);

    // Act, Assess
    await expect(awsCall({ service: 'DynamoDB' }, () => Promise.reject(conditional))).rejects.toBe(conditional);
  });

  it('does not send a call whose deadline has passed, and names the out-of-time DeadlineError', async () => {
    // Prepare
    const counter = { requests: 0 };
    const send = jest.fn(() => Promise.resolve('sent'));

    // Act
    const call = awsCall({ service: 'SQS', deadline: 1_000, clock: { now: () => 2_000 }, counter }, send);

    // Assess
    await expect(call).rejects.toBeInstanceOf(TransientError);
    await expect(call).rejects.toMatchObject({ code: 'DeadlineError', cause: expect.any(DeadlineError) as unknown });
    expect(send).not.toHaveBeenCalled();
    expect(counter.requests).toBe(0);
  });

  it('stops waiting at the deadline and aborts the request when asked to', async () => {
    // Prepare
    let signal: AbortSignal | undefined;

    // Act
    const call = awsCall({ service: 'DynamoDB', timeoutMs: 20, abortable: true }, (abortSignal) => {
      signal = abortSignal;
      return new Promise<never>(() => undefined);
    });

    // Assess
    await expect(call).rejects.toMatchObject({ kind: 'transient', code: 'DeadlineError' });
    expect(signal).toBeInstanceOf(AbortSignal);
  });
});
