/**
 * What the ingest function needs to apply a privacy policy, loaded only when a source has one: a
 * chunk of its own beside the bundle (scripts/build.ts `CHUNKS`), so the bundle every request loads
 * carries none of it (about 12 KB; the ingest bundle is held to 1.2x the SDK-only bundle, bench).
 */
export { readPrivacyPolicy } from './privacy-policy';
export { applyPolicy, compilePolicy } from './privacy-rules';
