/**
 * `replay` of small archives into a local stage: bad lines reported with their line numbers, the
 * checkpoint, retries that honour Retry-After, Ctrl-C, and the progress display.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { segmentEvent } from '../support/events';
import { cli } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-replay-'));
});

afterAll(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stored = async (userId: string) => {
  const tables = await Promise.all((['track', 'identify', 'page'] as const).map((t) => stack.scan(t)));
  return tables.flat().filter((item) => item.userId === userId);
};

const jsonl = (events: unknown[]) => events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n';

describe('replay', () => {
  it('sends a gzip archive, reports every line it does not send with its number, and checkpoints the file as complete', async () => {
    // Prepare: line 3 is not JSON, 5 is blank, 6 an array, 8 over 32 KB, 9 an event the service rejects.
    const lines = [
      segmentEvent('track', { userId: 'gz-user' }),
      segmentEvent('identify', { userId: 'gz-user' }),
      '{"type": "track", "userId": "gz-user"',
      segmentEvent('page', { userId: 'gz-user' }),
      '',
      '[1, 2, 3]',
      segmentEvent('track', { userId: 'gz-user' }),
      segmentEvent('track', { userId: 'gz-user', properties: { blob: 'x'.repeat(33_000) } }),
      { type: 'track', userId: 'gz-user', messageId: 'no-event-name' },
    ];
    const file = path.join(dir, 'mixed.jsonl.gz');
    writeFileSync(file, gzipSync(jsonl(lines)));
    const checkpoint = path.join(dir, 'mixed.checkpoint.json');

    // Act
    const result = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', checkpoint]);
    await stack.drain();
    const again = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', checkpoint]);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${file}:3: not JSON (`);
    expect(result.stderr).toContain(`${file}:6: not a JSON object (an array)`);
    expect(result.stderr).toMatch(
      new RegExp(`${file.replace(/[.]/g, '\\.')}:8: event is 33\\d{3} bytes, over the 32768-byte limit; not sent`),
    );
    expect(result.stderr).toContain(`${file}:9: rejected by the service: missing required field "event"`);
    expect(result.stderr).not.toContain(':5:');
    expect(result.stdout).toMatch(/^replay finished after .+: 5 events sent in 1 request /m);
    expect(result.stdout).toMatch(/accepted {3}4\n {2}rejected {3}1 /);
    expect(result.stdout).toMatch(/not sent {3}3 lines/);
    expect(await stored('gz-user')).toHaveLength(4);
    expect((await stack.scan('rejected')).filter((r) => r.messageId === 'no-event-name')).toHaveLength(1);
    expect(JSON.parse(readFileSync(checkpoint, 'utf8'))).toMatchObject({
      endpoint: stack.url,
      files: { [file]: { linesDone: 9, complete: true } },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to do: the file was replayed completely');
  });

  it('splits files into batches within the limits and reads several files, plain and gzip', async () => {
    const first = path.join(dir, 'a.jsonl');
    const second = path.join(dir, 'b.jsonl.gz');
    writeFileSync(first, jsonl(Array.from({ length: 12 }, () => segmentEvent('page', { userId: 'multi-user' }))));
    writeFileSync(second, gzipSync(jsonl(Array.from({ length: 9 }, () => segmentEvent('identify', { userId: 'multi-user' })))));

    const result = await cli(stack, [
      'replay',
      first,
      second,
      '--key',
      stack.key,
      '--batch-events',
      '5',
      '--checkpoint',
      path.join(dir, 'multi.json'),
    ]);
    await stack.drain();

    expect(result.code).toBe(0);
    // 12 events: 5 + 5 + 2; 9 events: 5 + 4. A batch never spans two files.
    expect(result.stdout).toMatch(/21 events sent in 5 requests/);
    expect(await stored('multi-user')).toHaveLength(21);
  });

  it('stops on Ctrl-C after the requests in flight, checkpoints what was acknowledged, and resumes from there', async () => {
    // Prepare: 60 events sent 10 a second in batches of 10, interrupted after the first batch is answered.
    const file = path.join(dir, 'interrupted.jsonl');
    writeFileSync(file, jsonl(Array.from({ length: 60 }, (_, i) => segmentEvent('track', { userId: 'ctrl-c', messageId: `ctrl-c-${i}` }))));
    const checkpoint = path.join(dir, 'interrupted.json');
    const controller = new AbortController();
    const watcher = setInterval(() => {
      try {
        if ((JSON.parse(readFileSync(checkpoint, 'utf8')) as { files: Record<string, { linesDone: number }> }).files[file]?.linesDone)
          controller.abort();
      } catch {
        // Not written yet.
      }
    }, 20);

    // Act
    const interrupted = await cli(
      stack,
      ['replay', file, '--key', stack.key, '--checkpoint', checkpoint, '--rate', '10', '--concurrency', '1'],
      { signal: controller.signal },
    );
    clearInterval(watcher);
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { files: Record<string, { linesDone: number; complete: boolean }> };
    const resumed = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', checkpoint]);
    await stack.drain();

    // Assess
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toContain('replay interrupted');
    expect(interrupted.stdout).toContain('Run the same command again to resume');
    expect(saved.files[file]?.complete).toBe(false);
    const done = saved.files[file]?.linesDone ?? 0;
    expect(done % 10).toBe(0);
    expect(done).toBeGreaterThanOrEqual(10);
    expect(done).toBeLessThan(60);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`skipped    ${done} lines`);
    expect(resumed.stdout).toContain(`${60 - done} events sent`);
    expect(await stored('ctrl-c')).toHaveLength(60);
  });

  it('prints plain progress lines when stderr is not a terminal, and redraws one line when it is', async () => {
    const file = path.join(dir, 'progress.jsonl');
    writeFileSync(file, jsonl(Array.from({ length: 30 }, () => segmentEvent('page', { userId: 'progress' }))));

    // 30 events at 15 a second: three batches over about two seconds.
    const plain = await cli(stack, [
      'replay',
      file,
      '--key',
      stack.key,
      '--rate',
      '15',
      '--progress-interval',
      '0.2',
      '--checkpoint',
      path.join(dir, 'p1.json'),
    ]);
    const tty = await cli(stack, ['replay', file, '--key', stack.key, '--rate', '15', '--checkpoint', path.join(dir, 'p2.json')], {
      tty: true,
    });

    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/^\d+ events \[[#.]{20}\] \d+% {2}\d+ events\/s {2}ETA \S+ {2}\(rejected 0, retried 0, not sent 0\)$/m);
    expect(plain.stderr).not.toContain('\r');
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain(`\r\u001b[2K30 events [${'#'.repeat(20)}] 100%`);
  });

  it('reports and skips a 32 MB line without holding it, and sends the lines around it', async () => {
    // Prepare: on main 331ea64 this line took 3 s and 285-423 MB (the text rescanned per chunk).
    const file = path.join(dir, 'long-line.jsonl');
    const head = JSON.stringify(segmentEvent('track', { userId: 'long-line' }));
    const long = `{"type":"track","blob":"${'x'.repeat(32 * 1024 * 1024)}"}`;
    writeFileSync(file, `${head}\n${long}\n${head.replace('long-line', 'long-line-2')}\n`);

    // Act
    const result = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', path.join(dir, 'long-line.json')]);
    await stack.drain();

    // Assess: exit 3, a line not sent.
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${file}:2: line is ${long.length} bytes, over the 32768-byte event limit; not read, not sent`);
    expect(result.stdout).toMatch(/not sent {3}1 lines/);
    expect(await stored('long-line')).toHaveLength(1);
    expect(await stored('long-line-2')).toHaveLength(1);
  });

  it('refuses a checkpoint that counts more lines than the file has, or was written for another file of the same size', async () => {
    // Prepare: three lines, and a checkpoint claiming a billion of them sent.
    const file = path.join(dir, 'three.jsonl');
    writeFileSync(file, jsonl([1, 2, 3].map((n) => segmentEvent('track', { userId: `three-${n}` }))));
    const checkpoint = path.join(dir, 'three.json');
    const size = readFileSync(file).length;
    writeFileSync(
      checkpoint,
      JSON.stringify({ version: 1, endpoint: stack.url, files: { [file]: { size, linesDone: 1e9, complete: false } }, updatedAt: '' }),
    );

    // Act
    const claimed = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', checkpoint]);
    const fresh = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', path.join(dir, 'three-fresh.json')]);
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('three-', 'other-'));
    const other = await cli(stack, ['replay', file, '--key', stack.key, '--checkpoint', path.join(dir, 'three-fresh.json')]);

    // Assess: on main 331ea64, "0 events sent" and exit 0.
    expect(claimed.code).toBe(2);
    expect(claimed.stderr).toContain(`${file} has 3 lines, but the checkpoint ${checkpoint} says 1000000000 of it were sent`);
    expect(fresh.code).toBe(0);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('is not the file the checkpoint');
    expect(other.stderr).toContain('(same size, other content)');
  });
});

describe('replay against an endpoint that pushes back', () => {
  // The local service never answers 503 or 429 on its own, so a proxy in front of it forces them: the
  // only faults in these tests that are not the real pipeline's. Everything it lets through is real.
  let proxy: Server;
  let url: string;
  const faults: Array<{ status: number; retryAfter?: string } | 'reset'> = [];
  const arrivals: number[] = [];

  beforeAll(async () => {
    const target = new URL(stack.url);
    proxy = createServer((req, res) => {
      if (req.url === '/v1/batch') arrivals.push(Date.now());
      const fault = req.url === '/v1/batch' ? faults.shift() : undefined;
      if (fault === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault) {
        req.resume();
        res
          .writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) })
          .end('{"message":"busy"}');
        return;
      }
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });

  it('waits as long as Retry-After says on 503 and 429, backs off on 5xx and dropped connections, and loses nothing', async () => {
    // Prepare
    const file = path.join(dir, 'pushback.jsonl');
    writeFileSync(file, jsonl(Array.from({ length: 8 }, () => segmentEvent('track', { userId: 'pushback' }))));
    faults.push({ status: 503, retryAfter: '2' }, { status: 429, retryAfter: '1' }, { status: 502 }, 'reset');
    arrivals.length = 0;

    // Act
    const result = await cli(stack, [
      'replay',
      file,
      '--key',
      stack.key,
      '--endpoint',
      url,
      '--checkpoint',
      path.join(dir, 'pushback.json'),
    ]);
    await stack.drain();

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/retrying a batch in 2\.0s \(attempt 2\): 503 busy/);
    expect(result.stderr).toMatch(/retrying a batch in 1\.0s \(attempt 3\): 429 busy/);
    expect(result.stderr).toMatch(/\(attempt 4\): 502 busy/);
    expect(result.stderr).toMatch(/\(attempt 5\): (connection reset|connection closed|other side closed|fetch failed)/);
    expect(result.stdout).toMatch(/accepted {3}8\n/);
    expect(result.stdout).toMatch(/retried {4}4 requests/);
    expect(arrivals).toHaveLength(5);
    expect((arrivals[1] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(1900);
    expect((arrivals[2] ?? 0) - (arrivals[1] ?? 0)).toBeGreaterThanOrEqual(900);
    expect(await stored('pushback')).toHaveLength(8);
  });

  it('stops at once when the endpoint refuses the key', async () => {
    const file = path.join(dir, 'refused.jsonl');
    writeFileSync(file, jsonl([segmentEvent('track', { userId: 'refused' })]));

    const result = await cli(stack, [
      'replay',
      file,
      '--key',
      'sk_wrong',
      '--endpoint',
      url,
      '--checkpoint',
      path.join(dir, 'refused.json'),
    ]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('segment-ingest: the endpoint refused the batch: 401 unknown API key. Check the key');
    expect(result.stdout).toContain('replay stopped on an error');
  });
});
