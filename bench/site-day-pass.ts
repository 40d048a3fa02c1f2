/**
 * The site-day pass (issue 22): the day of bench/site-day.ts through the real ingest and worker
 * handlers, for each shape, with the stage's defaults (profiles and schemas on). The profiles table
 * lives on DynamoDB Local and is metered as DynamoDB bills it (bench/profile-meter.ts, which says
 * why); every other AWS call is answered by `FakeAws`, which sizes the event items as the main pass does.
 * Returning users' profiles are written first by the warm-up, unmetered; then the day is metered.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createWorkerHandler, loadWorkerDeps } from '../lib/worker/handler';
import { SEEN_LINK_ENTRIES, SEEN_LINK_TTL_MS, SeenLinks, type LinkSighting } from '../lib/worker/profiles/seen-links';
import { startDynamoDbLocal } from '../local/emulators';
import { freePort } from '../local/ports';
import { provisionTables } from '../local/provision';
import { eventItemBytes } from './fake-aws';
import { random, type BenchEvent } from './fixtures';
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
  /** Profile write and read units per 1,000 events by item kind (bench/profile-meter.ts `itemKind`); absent before 2026-12-08. */
  profileUnitsPer1000EventsByItem?: Record<string, { writeUnits: number; readUnits: number }>;
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
  /**
   * How long, in the day's time, a worker instance remembers a stored link (`linkMemoryMs`):
   * absent before 2026-12-08, when workers had no link memory.
   */
  linkMemorySeconds?: number;
  seconds: number;
}

/**
 * How long an instance's link memory holds an entry at the site's rate: its TTL, or less when its
 * `SEEN_LINK_ENTRIES` fill first. Every event that links a user and an anonymous id is counted as
 * a new entry (an upper bound: a session's later events only refresh theirs), and an instance gets
 * its share of the site's events. The sample's own events are far too few to fill the memory,
 * hence this bound on the day's clock.
 */
export function linkMemoryMs(model: SiteDayModel, linkingShare: number): number {
  const entriesPerSecond = (model.ratePerSecond * linkingShare) / model.workerInstances;
  return entriesPerSecond > 0 ? Math.min(SEEN_LINK_TTL_MS, (SEEN_LINK_ENTRIES / entriesPerSecond) * 1000) : SEEN_LINK_TTL_MS;
}

/**
 * A worker instance's link memory on the day's clock: looking up or noting a user's link happens at
 * the time of that user's events in the invocation (`times`, by userId), not the bench's.
 */
class DayClockLinks extends SeenLinks {
  constructor(
    private readonly times: ReadonlyMap<string, number>,
    private readonly clock: { now: number },
    ttlMs: number,
  ) {
    super(SEEN_LINK_ENTRIES, () => clock.now, ttlMs);
  }

  override has(link: LinkSighting, profileErasures: number): boolean {
    this.clock.now = this.times.get(link.userId) ?? 0;
    return super.has(link, profileErasures);
  }

  override note(link: LinkSighting, profileErasures: number): void {
    this.clock.now = this.times.get(link.userId) ?? 0;
    super.note(link, profileErasures);
  }
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
  const day = siteDayEvents(model);
  const linking = day.filter(({ event }) => typeof event.userId === 'string' && typeof event.anonymousId === 'string').length;
  const memoryMs = linkMemoryMs(model, linking / day.length);
  // The time of each user's events in the invocation being run, for the instances' link memories.
  const times = new Map<string, number>();
  const workers = Array.from({ length: model.workerInstances }, () =>
    createWorkerHandler({
      ...loadWorkerDeps(functionEnv(shape, { STAGE: stage }), { requestHandler: router as never }),
      seenLinks: new DayClockLinks(times, { now: 0 }, memoryMs),
    }),
  );
  const pick = random(model.seed + 2);
  const ingest = ingestRig(shape);
  let numbered = 0;
  let erasureReadUnitsPerInvocation = 0;
  const run = async (events: readonly BenchEvent[]) => {
    const messages = await messagesOf(shape, ingest, events);
    times.clear();
    for (const event of events) if (typeof event.userId === 'string') times.set(event.userId, Date.parse(String(event.timestamp)));
    for (const batch of chunk(messages, Math.max(DEPLOYMENT.workerBatchSize, messages.length))) {
      const before = fake.observed.readUnits;
      const handler = workers[Math.floor(pick() * workers.length)] as (typeof workers)[number];
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
    profileUnitsPer1000EventsByItem: Object.fromEntries(
      Object.entries(meter.byItem).map(([kind, u]) => [
        kind,
        { writeUnits: (u.writeUnits / n) * 1000, readUnits: (u.readUnits / n) * 1000 },
      ]),
    ),
    wruPerEvent: writeUnits(observed.itemBytes) / n,
    leanWruPerEvent: writeUnits(observed.leanItemBytes) / n,
    rruPerEvent: erasureReadUnitsPerInvocation / full,
    erasureReadUnitsPerInvocation,
    floorWruPerEvent: day.reduce((sum, d) => sum + Math.max(1, Math.ceil(eventItemBytes(d.event) / 1024)), 0) / n,
    linkMemorySeconds: memoryMs / 1000,
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
