/**
 * A destination plugin for analytics.js 2.0 (`@segment/analytics-next`) that sends every event to
 * a segment-ingest stage while the page keeps sending to Segment:
 *
 *   analytics.register(segmentIngest({ apiKey: 'KEY', apiHost: 'abc123.execute-api.eu-west-1.amazonaws.com/v1' }))
 *
 * It is analytics.js's own Segment.io plugin (its public `segmentio()` factory: a retry queue kept
 * in localStorage, Retry-After on 429, backoff on 5xx, batching, the flush when the page hides)
 * pointed at the stage, under a name of its own: a second plugin named `Segment.io` would be
 * removed with Segment's, and would ignore `integrations: { All: false }`. So an event with
 * `integrations: { 'Segment Ingest': false }` (or `All: false` without `'Segment Ingest': true`)
 * is not sent here; analytics.js filters destinations by their name.
 */
import type { Analytics, Context, Plugin } from '@segment/analytics-next';
import { segmentio } from '@segment/analytics-next';

/** What `segmentio()` takes (analytics.js does not export the type by name). */
type SegmentioSettings = NonNullable<Parameters<typeof segmentio>[1]>;

/** The plugin's name, the key of `integrations` that turns it off for an event. */
export const PLUGIN_NAME = 'Segment Ingest';

export interface SegmentIngestSettings {
  /** A key of the source (`segment-ingest keys create --source <id>`): an events key, safe in a page. */
  apiKey: string;
  /**
   * The stage's Tracking API: its host and `/v1`, as analytics.js takes its `apiHost`
   * (`abc123.execute-api.eu-west-1.amazonaws.com/v1`), or the same as a URL (`https://.../v1`).
   */
  apiHost: string;
  /** `https` unless told; taken from `apiHost` when that is a URL. */
  protocol?: 'http' | 'https';
  /** analytics.js's delivery strategy: `{ strategy: 'batching', config: { size, timeout } }` sends to `/v1/b`. */
  deliveryStrategy?: SegmentioSettings['deliveryStrategy'];
  /** analytics.js's retry and rate-limit settings. */
  httpConfig?: SegmentioSettings['httpConfig'];
}

type EventMethod = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias';
const EVENT_METHODS: readonly EventMethod[] = ['track', 'identify', 'page', 'screen', 'group', 'alias'];

/** `apiHost` and `protocol` as analytics.js wants them; throws an Error naming what is wrong. */
export function resolveHost(settings: Pick<SegmentIngestSettings, 'apiHost' | 'protocol'>): {
  apiHost: string;
  protocol: 'http' | 'https';
} {
  const given = typeof settings.apiHost === 'string' ? settings.apiHost.trim() : '';
  if (given === '') throw new Error('segmentIngest: apiHost is required, e.g. "abc123.execute-api.eu-west-1.amazonaws.com/v1"');
  const url = /^(https?):\/\/(.+)$/i.exec(given);
  const protocol = (url?.[1]?.toLowerCase() as 'http' | 'https' | undefined) ?? settings.protocol ?? 'https';
  const apiHost = (url?.[2] ?? given).replace(/\/+$/, '');
  if (!/\/v1$/.test(apiHost)) throw new Error(`segmentIngest: apiHost "${given}" must end in /v1, the stage's Tracking API`);
  return { apiHost, protocol };
}

/** The plugin; see the file's comment. Throws an Error naming a missing `apiKey` or a wrong `apiHost`. */
export function segmentIngest(settings: SegmentIngestSettings): Plugin {
  if (typeof settings?.apiKey !== 'string' || settings.apiKey === '') {
    throw new Error('segmentIngest: apiKey is required (a key of your source: segment-ingest keys create --source <id>)');
  }
  const host = resolveHost(settings);
  // analytics.js hands its instance to `load`, not to the factory: the delegate is made there.
  let delegate: Plugin | undefined;
  const forward = (method: EventMethod) => async (ctx: Context) => {
    if (!delegate) throw new Error('segmentIngest: an event arrived before the plugin was loaded');
    return (await delegate[method]?.(ctx)) ?? ctx;
  };
  const plugin: Plugin = {
    name: PLUGIN_NAME,
    type: 'destination',
    version: '1.0.0',
    isLoaded: () => delegate !== undefined,
    async load(_ctx: Context, analytics: Analytics) {
      const own: SegmentioSettings = {
        apiKey: settings.apiKey,
        ...host,
        deliveryStrategy: settings.deliveryStrategy,
        httpConfig: settings.httpConfig,
      };
      // No CDN settings: they describe the page's Segment destinations, not this one.
      delegate = segmentio(analytics, own);
    },
  };
  for (const method of EVENT_METHODS) plugin[method] = forward(method);
  return plugin;
}
