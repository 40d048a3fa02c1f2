// TEMPORARY until the profiles and bench branches land: they import the event item layout from
// here; it lives in lib/tables/events.ts. The lead removes this file at merge.
export { eventItem, fitsDynamo, type Item } from '../tables/events';
