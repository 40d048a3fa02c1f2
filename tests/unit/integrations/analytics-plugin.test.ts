/**
 * The analytics.js plugin's settings (integrations/analytics-plugin/src/index.ts): wrong ones are
 * refused when the page makes the plugin, with an error naming the setting; its behaviour in a
 * browser is tested in tests/integration/browser-segment-ingest-plugin.test.ts.
 */
import { PLUGIN_NAME, resolveHost, segmentIngest } from '../../../integrations/analytics-plugin/src';

describe('segmentIngest settings', () => {
  it('takes apiHost as analytics.js does (host and /v1) or as a URL', () => {
    expect(resolveHost({ apiHost: 'abc.execute-api.eu-west-1.amazonaws.com/v1' })).toEqual({
      apiHost: 'abc.execute-api.eu-west-1.amazonaws.com/v1',
      protocol: 'https',
    });
    expect(resolveHost({ apiHost: 'http://127.0.0.1:3000/v1/' })).toEqual({ apiHost: '127.0.0.1:3000/v1', protocol: 'http' });
    expect(resolveHost({ apiHost: 'ingest.example/v1', protocol: 'http' })).toEqual({ apiHost: 'ingest.example/v1', protocol: 'http' });
  });

  it('refuses a missing key, a missing host and a host without /v1, naming them', () => {
    expect(() => segmentIngest({ apiKey: '', apiHost: 'x/v1' })).toThrow('segmentIngest: apiKey is required');
    expect(() => segmentIngest({ apiKey: 'k', apiHost: ' ' })).toThrow('segmentIngest: apiHost is required');
    expect(() => segmentIngest({ apiKey: 'k', apiHost: 'https://abc.execute-api.eu-west-1.amazonaws.com' })).toThrow(
      'segmentIngest: apiHost "https://abc.execute-api.eu-west-1.amazonaws.com" must end in /v1',
    );
  });

  it('is a destination named "Segment Ingest", not Segment.io, for every event method', () => {
    const plugin = segmentIngest({ apiKey: 'k', apiHost: 'x/v1' });
    expect(plugin).toMatchObject({ name: PLUGIN_NAME, type: 'destination' });
    expect(PLUGIN_NAME).toBe('Segment Ingest');
    for (const method of ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const) expect(typeof plugin[method]).toBe('function');
    expect(plugin.isLoaded()).toBe(false);
  });
});
