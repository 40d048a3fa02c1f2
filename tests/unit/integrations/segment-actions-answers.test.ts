/**
 * How the Actions destination reads the service's answer to a batch (integrations/segment-actions/src/answers.ts):
 * the answers of docs/spec.md section 2, as Segment's multi-status answer, one entry per event.
 */
import { multiStatusOf } from '../../../integrations/segment-actions/src/answers';

const events = [{ messageId: 'a' }, { messageId: 'b' }, { messageId: 'c' }];
const entries = (status: number, body: unknown) =>
  multiStatusOf(events, status, body)
    .getAllResponses()
    .map((r) => r.value());

describe('multiStatusOf', () => {
  it('marks the events a 200 lists in errors as refused (400, not retried) and the others as accepted', () => {
    const body = { success: true, accepted: 2, rejected: 1, errors: [{ index: 1, messageId: 'b', message: 'track needs "event"' }] };
    expect(entries(200, body)).toEqual([
      { status: 200, sent: events[0], body: 'accepted' },
      {
        status: 400,
        errortype: 'PAYLOAD_VALIDATION_FAILED',
        errormessage: 'track needs "event"',
        sent: events[1],
        body: 'track needs "event"',
      },
      { status: 200, sent: events[2], body: 'accepted' },
    ]);
  });

  it('refuses every event of a 400 whose errors name them all', () => {
    const body = {
      message: 'every event in the batch is invalid (3 of 3); see errors',
      errors: [0, 1, 2].map((index) => ({ index, message: `bad ${index}` })),
    };
    expect(entries(400, body).map((e) => [e.status, 'errormessage' in e ? e.errormessage : undefined])).toEqual([
      [400, 'bad 0'],
      [400, 'bad 1'],
      [400, 'bad 2'],
    ]);
  });

  it.each([
    [400, { message: 'body must be one event object or an array of events, got a string' }],
    [401, { message: 'unknown API key' }],
    [413, { message: 'the array has 5000 events; the limit is 4000' }],
    [429, { message: 'source "s" is over its rate limit of 1 events/s; retry in 2 s' }],
    [503, { message: 'the queue did not accept 1 of 1 messages in time; retry later' }],
  ])('gives every event the status and message of a %i for the whole request', (status, body) => {
    expect(entries(status, body)).toEqual(
      events.map((sent) => ({ status, errortype: expect.any(String), errormessage: body.message, sent, body })),
    );
  });

  it('names the status when the answer has no message (a gateway page)', () => {
    expect(entries(502, '<html>Bad Gateway</html>')[0]).toMatchObject({
      status: 502,
      errormessage: 'HTTP 502',
      body: '<html>Bad Gateway</html>',
    });
  });
});
