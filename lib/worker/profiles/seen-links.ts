/**
 * A worker instance's memory of the anonymous-id links it saw stored (issue 22: what profiles cost).
 *
 * Every event of a known user carries its anonymous id, and the link's day (`a#<anonymousId>`, `o`
 * the day last seen) is stored once a day. Without this memory each such event reads the user's
 * core (half a read unit) only to find the link there already: most of the profile reads of live
 * traffic. An instance that stored (or found) the link for a day remembers it, and the later events
 * of that user, anonymous id and day that change nothing else read nothing.
 *
 * Erasure is the one thing that removes a link. The memory of a source holds only while the
 * source's `profileErasures` count (lib/tables/erasures.ts, raised after each profile erasure) is
 * the one read when the link was noted; the worker reads the count with the erasure watermarks it
 * reads for every batch anyway, so this costs no request. A batch that erases users uses none of
 * it. Instances do not share it: in AWS, several instances each learn their users (docs/profiles.md
 * says what it saves, measured with several instances).
 *
 * Bounded: entries are keyed by a SHA-256 of the ids (44 characters, whatever the ids' length),
 * `SEEN_LINK_ENTRIES` at most, least recently used first out, kept `SEEN_LINK_TTL_MS`.
 */
import { createHash } from 'node:crypto';
import { LruCache } from '../../shared/lru-cache';

/** About 200 bytes each: a few MB at most. */
export const SEEN_LINK_ENTRIES = 20_000;
/** A day is the link's grain; an hour covers a visit's events and keeps the memory fresh. */
export const SEEN_LINK_TTL_MS = 3_600_000;

export interface LinkSighting {
  sourceId: string;
  userId: string;
  anonymousId: string;
  /** The day the link is stored for (`dayOf`, YYYY-MM-DD). */
  day: string;
}

export class SeenLinks {
  private readonly cache: LruCache<{ day: string; profileErasures: number }>;

  constructor(
    maxEntries = SEEN_LINK_ENTRIES,
    now: () => number = Date.now,
    private readonly ttlMs = SEEN_LINK_TTL_MS,
  ) {
    this.cache = new LruCache(maxEntries, now);
  }

  /** True when the link is known stored for `day` or later, and the source erased no profile since. */
  has(link: LinkSighting, profileErasures: number): boolean {
    const entry = this.cache.get(idOf(link))?.value;
    return entry !== undefined && entry.profileErasures === profileErasures && entry.day >= link.day;
  }

  /** Notes the link stored for `day`, under the source's `profileErasures` count read before it was stored or found. */
  note(link: LinkSighting, profileErasures: number): void {
    const id = idOf(link);
    const known = this.cache.get(id)?.value;
    if (known && known.profileErasures === profileErasures && known.day >= link.day) return;
    this.cache.set(id, { day: link.day, profileErasures }, this.ttlMs);
  }

  get size(): number {
    return this.cache.size;
  }
}

const idOf = (link: LinkSighting): string =>
  createHash('sha256')
    .update(JSON.stringify([link.sourceId, link.userId, link.anonymousId]))
    .digest('base64');
