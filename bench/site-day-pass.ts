/**
 * The site-day pass (issue 22): the day of bench/site-day.ts through the real ingest and worker
 * handlers, for each shape, with the stage's defaults (profiles and schemas on). The profiles table
 * lives on DynamoDB Local and is metered as DynamoDB bills it (bench/profile-meter.ts, which says
 * why); every other AWS call is answered by `FakeAws`, which sizes the event items as the main pass does.
 * Returning users' profiles are written first by the warm-up, unmetered; then the day is metered.
 */
import { createServer } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createWorkerHandler, loadWorkerDeps } from '../lib/worker/handler';
import { startDynamoDbLocal } from '../local/emulators';
import { provisionTables } from '../local/provision';
import { eventItemBytes } from './fake-aws';
import type { BenchEvent } from './fixtures';
import { apiEvents, fakeAws, functionEnv, ingestRig, sqsEventOf, writeUnits } from './in-process';
import { profileTables, ProfileRouter } from './profile-meter';
import { DEPLOYMENT } from './prices';
import { SHAPES, singleRoute, webhookRoute, type BenchRequest, type ShapeId } from './shapes';
import { packWindows, siteDayEvents, warmUpEvents, type SiteDayModel } from './site-day';

export interface SiteDayMeasurement {
  shape: ShapeId;
  /** Events of the metered day, and of the unmetered warm-up before it. */
  events: number;
  warmUpEvents: number;
  /** Events a full worker invocation of this shape holds (100 messages), and the seconds of live traffic they cover. */
  eventsPerFullInvocation: number;
  windowSeconds: number;
  /** Worker invocations the day's sample ran in (windows of disjoint profiles packed together). */
  invocations: number;
  /** Profile write and read units per event, as DynamoDB bills them (bench/profile-meter.ts). */
  profileWruPerEvent: number;
  profileRruPerEvent: number;
  /** Requests to the profiles table per 1,000 events, by operation. */
  profileRequestsPer1000Events: Record<string, number>;
  /**
   * The event items' write units, the erasure checks' read units, and the floor (1 WRU per KB of
   * event), per event. The erasure checks read each source's watermark a few times per invocation
   * (lib/tables/erasures.ts `findTombstones`; no watermark here, so no tombstone lookups), whatever
   * its number of events: `rruPerEvent` is the most any of the day's invocations read, spread over
   * the events of a full invocation (`erasureReadUnitsPerInvocation` ÷ `eventsPerFullInvocation`), as
   * in AWS, where an invocation holds a full batch of the live stream, not the sample's few events.
   */
  wruPerEvent: number;
  leanWruPerEvent: number;
  rruPerEvent: number;
  erasureReadUnitsPerInvocation: number;
  floorWruPerEvent: number;
  seconds: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A request of `shape` holding `events`, as its sender would send it. */
function requestOf(shape: ShapeId, events: BenchEvent[]): BenchRequest {
  if (shape === 'single') return { path: singleRoute(events[0] as BenchEvent), body: JSON.stringify(events[0]), events };
  if (shape === 'webhook' && webhookRoute) return { path: webhookRoute, body: JSON.stringify(events), events };
  return { path: '/v1/batch', body: JSON.stringify({ batch: events }), events };
}

const chunk = <T>(list: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

/** The ingest's queue messages for `events`, sent as requests of the shape. */
async function messagesOf(shape: ShapeId, ingest: ReturnType<typeof ingestRig>, events: readonly BenchEvent[]): Promise<string[]> {
  const requests = chunk(events, SHAPES[shape].eventsPerRequest).map((list) => requestOf(shape, list));
  for (const event of apiEvents(shape, requests)) {
    const response = await ingest.handler(event);
    if (response.statusCode !== 200) throw new Error(`site day: the ingest answered ${response.statusCode} ${response.body}`);
  }
  return ingest.fake.reset().messages;
}

/** Events of a full invocation of `shape`: the trigger's batch of messages times the shape's events per message. */
async function fullInvocationEvents(shape: ShapeId): Promise<number> {
  const requests = SHAPES[shape].requests(shape === 'single' ? 10 : 2);
  const events = requests.reduce((sum, r) => sum + r.events.length, 0);
  const messages = await messagesOf(
    shape,
    ingestRig(shape),
    requests.flatMap((r) => r.events),
  );
  return Math.round((events / messages.length) * DEPLOYMENT.workerBatchSize);
}

async function measureShape(shape: ShapeId, model: SiteDayModel, endpoint: string): Promise<SiteDayMeasurement> {
  const started = Date.now();
  const stage = `siteday-${shape}`;
  const admin = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await provisionTables(admin, stage, { streams: false });
  admin.destroy();
  const fake = fakeAws();
  fake.account = true;
  const router = new ProfileRouter(fake, endpoint, profileTables(stage));
  const handler = createWorkerHandler(loadWorkerDeps(functionEnv(shape, { STAGE: stage }), { requestHandler: router as never }));
  const ingest = ingestRig(shape);
  let numbered = 0;
  let erasureReadUnitsPerInvocation = 0;
  const run = async (events: readonly BenchEvent[]) => {
    const messages = await messagesOf(shape, ingest, events);
    for (const batch of chunk(messages, Math.max(DEPLOYMENT.workerBatchSize, messages.length))) {
      const before = fake.observed.readUnits;
      const { batchItemFailures } = await handler(sqsEventOf(batch, numbered));
      erasureReadUnitsPerInvocation = Math.max(erasureReadUnitsPerInvocation, fake.observed.readUnits - before);
      numbered += batch.length;
      if (batchItemFailures.length > 0) throw new Error(`site day: the worker failed ${batchItemFailures.length} message(s)`);
    }
  };

  const warmUp = warmUpEvents(model);
  for (const events of chunk(warmUp, 1000)) await run(events);
  router.takeMeter();
  fake.reset();
  erasureReadUnitsPerInvocation = 0;

  const day = siteDayEvents(model);
  const full = await fullInvocationEvents(shape);
  const invocations = packWindows(day, model, full, full);
  for (const events of invocations) await run(events);
  const meter = router.takeMeter();
  const observed = fake.reset();
  const n = day.length;
  return {
    shape,
    events: n,
    warmUpEvents: warmUp.length,
    eventsPerFullInvocation: full,
    windowSeconds: full / model.ratePerSecond,
    invocations: invocations.length,
    profileWruPerEvent: meter.writeUnits / n,
    profileRruPerEvent: meter.readUnits / n,
    profileRequestsPer1000Events: Object.fromEntries(Object.entries(meter.requests).map(([op, count]) => [op, (count / n) * 1000])),
    wruPerEvent: writeUnits(observed.itemBytes) / n,
    leanWruPerEvent: writeUnits(observed.leanItemBytes) / n,
    rruPerEvent: erasureReadUnitsPerInvocation / full,
    erasureReadUnitsPerInvocation,
    floorWruPerEvent: day.reduce((sum, d) => sum + Math.max(1, Math.ceil(eventItemBytes(d.event) / 1024)), 0) / n,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The site-day pass for `shapes`, on one DynamoDB Local started here and stopped after. */
export async function measureSiteDay(
  shapes: readonly ShapeId[],
  model: SiteDayModel,
): Promise<Partial<Record<ShapeId, SiteDayMeasurement>>> {
  const local = await startDynamoDbLocal(await freePort(), null);
  try {
    const results: Partial<Record<ShapeId, SiteDayMeasurement>> = {};
    for (const shape of shapes) results[shape] = await measureShape(shape, model, local.endpoint);
    return results;
  } finally {
    await local.stop();
  }
}
