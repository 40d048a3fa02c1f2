/**
 * segment-ingest as a Segment Destination Actions destination, in the form of Segment's
 * action-destinations repository (docs/integrations.md says how to submit it). Settings:
 * settings.ts; the one action: send.ts; deletions (Segment's user deletion requests) go to the
 * service as `delete` events, which erase the user.
 */
import type { DestinationDefinition } from '@segment/actions-core';
import { defaultValues } from '@segment/actions-core';
import { send } from './send';
import { expectAccepted, routeUrl, testSettings, type Settings } from './settings';

const destination: DestinationDefinition<Settings> = {
  // No spaces or parentheses: the published @segment/actions-core keys its Ajv schemas by this name,
  // and the URI parser of current Ajv (fast-uri) refuses such a key. The catalog's display name
  // is set in Segment's Developer Center.
  name: 'segment-ingest',
  slug: 'actions-segment-ingest',
  mode: 'cloud',
  description:
    'Send every Segment event to your own segment-ingest stage on AWS: stored in DynamoDB per type, and erased on deletion requests.',
  authentication: {
    scheme: 'custom',
    fields: {
      endpoint: {
        label: 'Endpoint',
        description: 'The URL of your stage, as `segment-ingest status` shows it, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com',
        type: 'string',
        format: 'uri',
        required: true,
      },
      apiKey: {
        label: 'API Key',
        description: 'A destination key of your source: segment-ingest keys create --source <id> --scope destination',
        type: 'password',
        required: true,
      },
    },
    testAuthentication: (request, { settings }) => testSettings(request, settings),
  },
  extendRequest({ settings }) {
    return { username: settings.apiKey, password: '', timeout: 10_000 };
  },
  presets: [
    {
      name: 'Send Events',
      subscribe: send.defaultSubscription ?? '',
      partnerAction: 'send',
      mapping: defaultValues(send.fields),
      type: 'automatic',
    },
  ],
  // Segment's deletion requests carry the user's ids only; the service erases the user on a `delete`.
  onDelete: async (request, { settings, payload }) => {
    const event = { type: 'delete', userId: payload.userId, ...(payload.anonymousId ? { anonymousId: payload.anonymousId } : {}) };
    return expectAccepted(await request(routeUrl(settings.endpoint, '/segment'), { method: 'POST', json: event, throwHttpErrors: false }));
  },
  actions: { send },
};

export default destination;
