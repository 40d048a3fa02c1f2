/**
 * "Send Events": the whole Segment event, as Segment holds it, to the service. One event goes to
 * `POST /segment` (the Direct destination's route: every type, Segment's corrected `timestamp`
 * kept); a batch goes in one request to `POST /webhook/{sourceId}` (the Webhooks destination's
 * route, which answers per event), its source id asked of `GET /v1/auth` once per key.
 */
import type { ActionDefinition, JSONLikeObject } from '@segment/actions-core';
import { multiStatusOf } from './answers';
import { expectAccepted, routeUrl, sourceIdOf, type Settings } from './settings';

export interface Payload extends JSONLikeObject {
  event: JSONLikeObject;
  enable_batching?: boolean;
  batch_size?: number;
}

/** Events per batch: requests stay well under the service's 5 MB and 4000-event limits for a webhook array. */
export const DEFAULT_BATCH_SIZE = 500;

export const send: ActionDefinition<Settings, Payload> = {
  title: 'Send Events',
  description: 'Send every event, as Segment holds it, to your segment-ingest stage.',
  defaultSubscription: 'type = "track" or type = "identify" or type = "page" or type = "screen" or type = "group" or type = "alias"',
  fields: {
    event: {
      label: 'Event',
      description: 'The event to send: the whole Segment event unless you map a part of it.',
      type: 'object',
      required: true,
      default: { '@path': '$.' },
    },
    enable_batching: {
      label: 'Batch events',
      description: 'Send events in batches, one request per batch (fewer requests; each event still gets its own result).',
      type: 'boolean',
      default: true,
    },
    batch_size: {
      label: 'Batch size',
      description: 'The most events in one request (at most 4000, the service’s limit for one request).',
      type: 'number',
      minimum: 1,
      maximum: 4000,
      default: DEFAULT_BATCH_SIZE,
      unsafe_hidden: true,
    },
  },
  perform: async (request, { settings, payload }) =>
    expectAccepted(await request(routeUrl(settings.endpoint, '/segment'), { method: 'POST', json: payload.event, throwHttpErrors: false })),
  performBatch: async (request, { settings, payload }) => {
    const events = payload.map((item) => item.event);
    const sourceId = await sourceIdOf(request, settings);
    const response = await request(routeUrl(settings.endpoint, `/webhook/${encodeURIComponent(sourceId)}`), {
      method: 'POST',
      json: events,
      throwHttpErrors: false,
    });
    return multiStatusOf(events, response.status, response.data ?? response.content);
  },
};
