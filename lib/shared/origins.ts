/**
 * Browser origins a source accepts (`allowedOrigins` of a SourceRecord): the administration
 * normalises what operators write, the ingest function matches requests' `Origin` header against
 * the list. An entry is an exact origin (`https://shop.example`, `http://localhost:8080`) or every
 * subdomain of one (`https://*.shop.example`, which does not include `https://shop.example` itself).
 */

/** Entries one source may hold: a list, not a policy language. */
export const MAX_ALLOWED_ORIGINS = 100;
const MAX_ORIGIN_LENGTH = 300;

export type OriginParse = { ok: true; origin: string } | { ok: false; problem: string };

/**
 * Normalises an allowed origin as an operator writes it: the scheme and host lower-cased, a
 * default port and a trailing slash dropped, an international domain in its ASCII form (as
 * browsers send it). Refuses other schemes, paths, queries and credentials.
 */
export function parseAllowedOrigin(text: string): OriginParse {
  const trimmed = text.trim();
  const example = 'write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example';
  if (trimmed === '*') return { ok: false, problem: '"*" is not an origin: a source without a list of origins accepts every origin' };
  if (trimmed.length === 0 || trimmed.length > MAX_ORIGIN_LENGTH) {
    return { ok: false, problem: `an origin is 1-${MAX_ORIGIN_LENGTH} characters; ${example}` };
  }
  const wildcard = /^([a-z][a-z0-9+.-]*):\/\/\*\.(.*)$/i.exec(trimmed);
  let url: URL;
  try {
    url = new URL(wildcard ? `${wildcard[1]}://${wildcard[2]}` : trimmed);
  } catch {
    return { ok: false, problem: `"${trimmed}" is not an origin; ${example}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, problem: `"${trimmed}" is not an http or https origin; ${example}` };
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || /[?#]/.test(trimmed)) {
    return { ok: false, problem: `"${trimmed}" has a path, query or credentials, which an origin never has; ${example}` };
  }
  if (url.hostname.includes('*')) return { ok: false, problem: `"${trimmed}": only a leading "*." may stand for subdomains; ${example}` };
  if (wildcard && (!url.hostname.includes('.') || url.hostname.startsWith('['))) {
    return { ok: false, problem: `"${trimmed}": a wildcard stands for the subdomains of a domain name, e.g. https://*.shop.example` };
  }
  return { ok: true, origin: wildcard ? url.origin.replace('://', '://*.') : url.origin };
}

/**
 * True when `origin` (a request's `Origin` header) is in `allowed` (normalised entries): equal to
 * an entry, or a subdomain of a wildcard entry with the same scheme and port. `null` (sandboxed
 * frames, files) and anything that is not an origin match nothing.
 */
export function isOriginAllowed(origin: string, allowed: readonly string[]): boolean {
  let normalised: string;
  try {
    normalised = new URL(origin).origin;
  } catch {
    return false;
  }
  if (normalised === 'null') return false;
  for (const entry of allowed) {
    if (entry === normalised) return true;
    const star = entry.indexOf('://*.');
    if (star === -1) continue;
    const scheme = entry.slice(0, star + 3);
    const suffix = entry.slice(star + 4);
    if (normalised.startsWith(scheme) && normalised.endsWith(suffix) && normalised.length > scheme.length + suffix.length) return true;
  }
  return false;
}
