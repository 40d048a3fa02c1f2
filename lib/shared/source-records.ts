// TEMPORARY until the privacy and bench branches land: they import the source records from here;
// they live in lib/tables/sources.ts. The lead removes this file at merge.
// eslint-disable-next-line no-restricted-imports
export { hashKey, type SourceRecord } from '../tables/sources';
