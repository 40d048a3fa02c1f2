// TEMPORARY until the profiles and bench branches land: they import the wire form from here; it
// lives in lib/tables/dynamo-wire.ts. The lead removes this file at merge.
export { marshallItem, unmarshallItem, type AttributeMap } from '../tables/dynamo-wire';
