/**
 * The "site day" traffic model (issue 22): what a website's live traffic looks like to the worker's
 * profiles, as opposed to the bench's own events (each of a new user, the worst case).
 *
 * A population of visitors, each with an anonymous id (a cookie) and a number of events over the
 * day drawn from a power law (most visitors view a page or two, a few generate hundreds), split
 * into sessions. Most visitors stay anonymous; known users identify once per session (the same
 * traits, one of which changes per session); fewer of them join a group, once; a few anonymous
 * visitors sign up during the day (an alias from their anonymous id to a new user id, then an
 * identify). Returning visitors (known users and their groups) already have profiles from earlier
 * days: the warm-up (`warmUpEvents`) writes them, unmeasured, before the day.
 *
 * The day runs as live traffic at `ratePerSecond`: the sample's visitors are a random sample of a
 * site with that rate, so between two of a sampled visitor's events the real stream carries many
 * other users' events. A worker invocation of B events covers B / rate seconds of that stream; the
 * sample's events that fall in one such window share an invocation, as they would in AWS. To keep
 * the pass short, windows whose profile keys (user, anonymous, group and previous ids) are disjoint
 * run in one invocation: the worker's profile work for disjoint keys is the same whether they share
 * an invocation or not, and each key's windows keep their order (`packWindows`).
 */
import { makeEvents, random, type BenchEvent } from './fixtures';

export interface SiteDayModel {
  /** Visitors in the sample. */
  visitors: number;
  /** Events per visitor over the day: P(k) ∝ k^-exponent for k in 1..maxEventsPerVisitor. */
  eventsExponent: number;
  maxEventsPerVisitor: number;
  /** Mean events of a session; a visitor's events are split into sessions of about this many. */
  eventsPerSession: number;
  /** Mean seconds between two events of a session (exponential). */
  secondsBetweenEvents: number;
  /** Share of visitors who are known users: they identify once per session. */
  knownShare: number;
  /** Share of known users who join a group (once, in their first session of the day). */
  groupShare: number;
  /** Groups in the population; a joining user picks one by a power law (a few large customers). */
  groups: number;
  /** Share of anonymous visitors who sign up during the day: an alias, then an identify. */
  signUpShare: number;
  /** Share of known users whose profile exists from earlier days (returning users). */
  returningShare: number;
  /** Events per second of the whole site the sample is drawn from. */
  ratePerSecond: number;
  /** Length of the simulated day, seconds. */
  daySeconds: number;
  /**
   * Worker instances the day's invocations go to, one picked at random for each: the stage's
   * default `workerConcurrency`, and the five batches at once Lambda's SQS poller starts with. Each
   * keeps its own memory of stored links (lib/worker/profiles/seen-links.ts).
   */
  workerInstances: number;
  seed: number;
}

export const SITE_DAY: SiteDayModel = {
  visitors: 1000,
  eventsExponent: 1.8,
  maxEventsPerVisitor: 500,
  eventsPerSession: 6,
  secondsBetweenEvents: 30,
  knownShare: 0.3,
  groupShare: 0.2,
  groups: 200,
  signUpShare: 0.03,
  returningShare: 0.8,
  ratePerSecond: 1000,
  daySeconds: 86_400,
  workerInstances: 5,
  seed: 2212,
};

/**
 * The quick variant (`npm run bench:quick`): fewer visitors and a shorter tail, so the pass takes
 * well under a minute; the same shape of traffic otherwise. A visitor's events run in as many
 * invocations as the windows they fall in, so the heaviest visitor bounds the pass's length.
 */
export const SITE_DAY_QUICK: SiteDayModel = { ...SITE_DAY, visitors: 300, maxEventsPerVisitor: 200 };

/** One event of the day, at `at` seconds from the day's start. */
export interface DayEvent {
  at: number;
  event: BenchEvent;
}

const DAY_START = Date.UTC(2026, 2, 14, 0, 0, 0);

/** A power-law pick in 1..max: P(k) ∝ k^-exponent, by inverting the cumulative weights. */
function powerLaw(rand: () => number, exponent: number, max: number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 1; k <= max; k++) cumulative.push((total += k ** -exponent));
  return () => {
    const target = rand() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] as number) < target) low = middle + 1;
      else high = middle;
    }
    return low + 1;
  };
}

/** Event templates by type, from the bench's realistic events (bench/fixtures.ts). */
function templates(seed: number): Record<string, BenchEvent[]> {
  const byType: Record<string, BenchEvent[]> = {};
  for (const event of makeEvents(400, seed)) (byType[event.type] ??= []).push(event);
  return byType;
}

const pad = (n: number, width = 10) => String(n).padStart(width, '0');

interface Visitor {
  index: number;
  anonymousId: string;
  userId?: string;
  group?: string;
  signsUp: boolean;
  returning: boolean;
  events: number;
}

function visitors(model: SiteDayModel, rand: () => number): Visitor[] {
  const events = powerLaw(rand, model.eventsExponent, model.maxEventsPerVisitor);
  const group = powerLaw(rand, 1.2, model.groups);
  return Array.from({ length: model.visitors }, (_, index) => {
    const known = rand() < model.knownShare;
    const joins = known && rand() < model.groupShare;
    return {
      index,
      anonymousId: `anon-${pad(index)}-${Math.floor(rand() * 1e9).toString(36)}`,
      ...(known ? { userId: `usr_${pad(index)}` } : {}),
      ...(joins ? { group: `grp_${pad(group(), 4)}` } : {}),
      signsUp: !known && rand() < model.signUpShare,
      returning: known && rand() < model.returningShare,
      events: events(),
    };
  });
}

/** The day's events of every visitor, in time order, with the model's seeds: the same on every run. */
export function siteDayEvents(model: SiteDayModel): DayEvent[] {
  const rand = random(model.seed);
  const pool = templates(model.seed + 1);
  let counter = 0;
  const make = (type: string, visitor: Visitor, at: number, fields: Record<string, unknown> = {}): DayEvent => {
    const list = pool[type] as BenchEvent[];
    const event = structuredClone(list[counter % list.length] as BenchEvent);
    const time = new Date(DAY_START + Math.round(at * 1000)).toISOString();
    Object.assign(event, {
      messageId: `day-${pad(++counter)}`,
      anonymousId: visitor.anonymousId,
      timestamp: time,
      originalTimestamp: time,
    });
    delete event.userId;
    delete event.previousId;
    if (visitor.userId) event.userId = visitor.userId;
    Object.assign(event, fields);
    return { at, event };
  };
  const day: DayEvent[] = [];
  for (const visitor of visitors(model, rand)) {
    const sessions = Math.max(1, Math.round(visitor.events / model.eventsPerSession));
    let left = visitor.events;
    for (let s = 0; s < sessions; s++) {
      const size = s === sessions - 1 ? left : Math.max(1, Math.round(visitor.events / sessions));
      left -= size;
      let at = rand() * model.daySeconds;
      if (visitor.userId) day.push(make('identify', visitor, at, { traits: traitsOf(visitor, s) }));
      if (visitor.group && s === 0) day.push(make('group', visitor, (at += 1), { groupId: visitor.group }));
      for (let e = 0; e < size; e++) {
        at += -Math.log(1 - rand()) * model.secondsBetweenEvents;
        if (visitor.signsUp && s === 0 && e === Math.floor(size / 2)) signUp(visitor, at, make, day);
        day.push(make(rand() < 0.45 ? 'page' : 'track', visitor, at));
      }
    }
  }
  return day.filter((d) => d.at < model.daySeconds).sort((a, b) => a.at - b.at);
}

function signUp(
  visitor: Visitor,
  at: number,
  make: (type: string, v: Visitor, at: number, f?: Record<string, unknown>) => DayEvent,
  day: DayEvent[],
) {
  const userId = `usr_new_${pad(visitor.index)}`;
  day.push(make('alias', visitor, at, { previousId: visitor.anonymousId, userId }));
  visitor.userId = userId;
  day.push(make('identify', visitor, at + 0.5, { traits: traitsOf(visitor, 0) }));
}

/** A known user's traits: the same every session but for the login count. */
function traitsOf(visitor: Visitor, session: number): Record<string, unknown> {
  return {
    email: `user.${pad(visitor.index)}@example.com`,
    plan: visitor.index % 3 === 0 ? 'team' : 'free',
    createdAt: '2025-11-02T10:00:00.000Z',
    logins: 10 + visitor.index + session,
  };
}

/** Returning users' profiles from earlier days: an identify (and the group) of each, before the day. */
export function warmUpEvents(model: SiteDayModel): BenchEvent[] {
  const day = siteDayEvents(model);
  const seen = new Map<string, BenchEvent[]>();
  const returning = new Set(
    visitors(model, random(model.seed))
      .filter((v) => v.returning)
      .map((v) => v.userId),
  );
  for (const { event } of day) {
    const user = event.userId as string | undefined;
    if (!user || !returning.has(user) || (event.type !== 'identify' && event.type !== 'group')) continue;
    const list = seen.get(user) ?? [];
    if (list.some((e) => e.type === event.type)) continue;
    const time = new Date(DAY_START - 86_400_000).toISOString();
    list.push({ ...structuredClone(event), messageId: `${event.messageId}-before`, timestamp: time, originalTimestamp: time });
    seen.set(user, list);
  }
  return [...seen.values()].flat();
}

/** The ids of profiles an event touches: the units that must not repeat across packed windows. */
export function profileKeys(event: BenchEvent): string[] {
  return ['userId', 'anonymousId', 'groupId', 'previousId'].flatMap((field) =>
    typeof event[field] === 'string' ? [`${field === 'groupId' ? 'g' : 'u'}:${String(event[field])}`] : [],
  );
}

/**
 * The day's events in worker invocations: window `w` holds the events at seconds
 * [w·B/rate, (w+1)·B/rate) (B: `eventsPerInvocation`, the events of a full invocation of the
 * shape), as one invocation of the live stream would. Windows whose profile keys are disjoint are
 * independent, so they may share an invocation: each window goes into the first invocation after
 * the last one holding any of its keys (so a key's windows keep their time order) that has room
 * (at most `maxEvents` events).
 */
export function packWindows(day: readonly DayEvent[], model: SiteDayModel, eventsPerInvocation: number, maxEvents: number): BenchEvent[][] {
  const windowSeconds = eventsPerInvocation / model.ratePerSecond;
  const windows = new Map<number, BenchEvent[]>();
  for (const { at, event } of day) {
    const w = Math.floor(at / windowSeconds);
    const list = windows.get(w) ?? [];
    list.push(event);
    windows.set(w, list);
  }
  const invocations: BenchEvent[][] = [];
  const last = new Map<string, number>();
  for (const events of windows.values()) {
    const keys = events.flatMap(profileKeys);
    let at = Math.max(-1, ...keys.map((key) => last.get(key) ?? -1)) + 1;
    while ((invocations[at]?.length ?? 0) > 0 && (invocations[at] as BenchEvent[]).length + events.length > maxEvents) at++;
    (invocations[at] ??= []).push(...events);
    for (const key of keys) last.set(key, at);
  }
  return invocations.filter((list) => list.length > 0);
}

/** The model's parameters in words, for the report. */
export function describeModel(model: SiteDayModel): string {
  return (
    `${model.visitors.toLocaleString('en-US')} visitors sampled from a site of ${model.ratePerSecond.toLocaleString('en-US')} events/s over ` +
    `${model.daySeconds / 3600} h; events per visitor P(k) ∝ k^-${model.eventsExponent} (1–${model.maxEventsPerVisitor}), ` +
    `sessions of about ${model.eventsPerSession} events ${model.secondsBetweenEvents} s apart; ${model.knownShare * 100}% known users ` +
    `(identify once per session, ${model.returningShare * 100}% of them returning with a stored profile), ${model.groupShare * 100}% of those join ` +
    `one of ${model.groups} groups, ${model.signUpShare * 100}% of anonymous visitors sign up (alias + identify); ` +
    // Runs before 2026-12-08 had one worker and no link memory, and no such parameter.
    (model.workerInstances ? `invocations spread at random over ${model.workerInstances} worker instances; ` : '') +
    `seed ${model.seed}`
  );
}
