/**
 * The traffic shapes the benchmark measures, as the senders of docs/spec.md section 1 send them.
 */
import { makeEvents, type BenchEvent } from './fixtures';

/**
 * Where one Direct-destination event goes: `POST /segment`. (`(event) => \`/v1/${event.type}\``
 * measures the Tracking API's single-event routes instead.)
 */
export const singleRoute = (_event: BenchEvent): string => '/segment';

/**
 * Where a Webhooks array goes: the bench source's webhook route, authenticated with its key.
 * `undefined` measures the same 1000 events through `/v1/batch` (its size limit raised), labelled so.
 */
export const webhookRoute: string | undefined = '/webhook/bench';

export type ShapeId = 'single' | 'batch' | 'webhook';

export interface BenchRequest {
  path: string;
  body: string;
  events: BenchEvent[];
}

export interface Shape {
  id: ShapeId;
  label: string;
  eventsPerRequest: number;
  /** Shown beside the label when the shape is measured through a stand-in route. */
  note?: string;
  /** Function environment for this shape (limits it needs). */
  env: Record<string, string>;
  /** `count` requests of this shape, from a deterministic event stream. */
  requests(count: number): BenchRequest[];
}

function chunks(count: number, size: number, seed: number): BenchEvent[][] {
  const events = makeEvents(count * size, seed);
  return Array.from({ length: count }, (_, i) => events.slice(i * size, (i + 1) * size));
}

export const SHAPES: Record<ShapeId, Shape> = {
  single: {
    id: 'single',
    label: 'single event (Direct)',
    eventsPerRequest: 1,
    note: singleRoute({ type: 'track', messageId: '' }) === '/segment' ? undefined : 'via /v1/{type} until /segment lands',
    env: {},
    requests: (count) =>
      chunks(count, 1, 11).map((events) => ({ path: singleRoute(events[0] as BenchEvent), body: JSON.stringify(events[0]), events })),
  },
  batch: {
    id: 'batch',
    label: '/v1/batch of 100',
    eventsPerRequest: 100,
    env: {},
    requests: (count) => chunks(count, 100, 22).map((events) => ({ path: '/v1/batch', body: JSON.stringify({ batch: events }), events })),
  },
  webhook: {
    id: 'webhook',
    label: 'Webhooks array of 1000',
    eventsPerRequest: 1000,
    note: webhookRoute ? undefined : 'via /v1/batch until /webhook/{sourceId} lands',
    // About 1 MB of events: over /v1/batch's 500 KB default, within the webhook limits of docs/spec.md.
    env: webhookRoute ? {} : { MAX_BATCH_BYTES: String(4 * 1024 * 1024), MAX_BATCH_EVENTS: '4000' },
    requests: (count) =>
      chunks(count, 1000, 33).map((events) =>
        webhookRoute
          ? { path: webhookRoute, body: JSON.stringify(events), events }
          : { path: '/v1/batch', body: JSON.stringify({ batch: events }), events },
      ),
  },
};
