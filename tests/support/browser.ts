/**
 * A real browser for tests: Debian's Chromium (installed by .ci/run when missing) driven through
 * its DevTools protocol by puppeteer-core, which never downloads a browser of its own; a page
 * server on its own origin; and analytics.js 2.0 (`@segment/analytics-next`) bundled from
 * node_modules for the page, so nothing comes from Segment's CDN.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import puppeteer, { type Browser } from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium to drive: `CHROMIUM_PATH` if set, else the first of Debian's usual paths that exists. */
export function findChromium(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return configured;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

/** True in CI (.ci/run runs with CI=true), where a missing browser fails the test instead of skipping it. */
export function inCi(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * The Chromium a browser test file drives. Without one, registers the test that says so instead:
 * in CI (.ci/run installs Debian's chromium) a failing one, elsewhere a skipped one with a warning.
 */
export function chromiumForTests(what: string): string | undefined {
  const executable = findChromium();
  if (executable) return executable;
  if (inCi()) {
    it('needs Chromium', () => {
      throw new Error('no Chromium at /usr/bin/chromium (or CHROMIUM_PATH): .ci/run installs Debian\'s "chromium" package');
    });
  } else {
    console.warn('browser test skipped: no Chromium at /usr/bin/chromium (or CHROMIUM_PATH); apt-get install chromium to run it');
    // The name is the reason: `npm test` lists skipped tests by name at its end (tests/support/skipped-reporter.js).
    it.skip(`${what}: no Chromium at /usr/bin/chromium or CHROMIUM_PATH (apt-get install chromium to run it)`, () => undefined);
  }
  return undefined;
}

export interface Chromium {
  browser: Browser;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile, deleted again by `close`. */
export async function launchChromium(executablePath: string): Promise<Chromium> {
  const profile = mkdtempSync(path.join(tmpdir(), 'segment-ingest-chromium-'));
  try {
    const browser = await puppeteer.launch({
      executablePath,
      headless: true,
      userDataDir: profile,
      timeout: 20_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    return {
      browser,
      async close() {
        await browser.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
}

/**
 * analytics.js 2.0 from node_modules as one script that sets `window.AnalyticsBrowser` (its lazy
 * chunks inlined); `extra` is more of the script's source (imports resolve from the repository's root).
 */
export async function bundleAnalyticsNext(extra = ''): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;\n${extra}`,
      resolveDir: path.resolve(__dirname, '..', '..'),
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no bundle of @segment/analytics-next');
  return output.text;
}

export interface PageServer {
  /** The page's origin, e.g. `http://localhost:41234`. */
  origin: string;
  close(): Promise<void>;
}

/** Serves `files` (path -> [content type, body]) on localhost, a different origin from the stack's 127.0.0.1. */
export async function startPageServer(files: Record<string, [string, string]>): Promise<PageServer> {
  const server: Server = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://localhost').pathname];
    if (!file) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
