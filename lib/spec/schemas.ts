/**
 * The Segment Spec as JSON Schemas, one per event type. They check only what the Spec requires;
 * unknown fields are kept (`additionalProperties` is never false) and timestamps are not checked
 * here at all, because an unparseable timestamp must never reject an event (see `timestamps.ts`).
 */
import { SPEC_TYPES, type SpecType } from './event-types';

/**
 * How the schemas are compiled (by `scripts/generate-validators.ts`, at build time): `allErrors` so
 * a rejected event lists every reason; `strict` so a typo in a schema fails the build.
 */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true } as const;

/** A user, group or previous id: a non-empty string, or a number stored as its decimal string. */
const id = { type: ['string', 'number'], minLength: 1 } as const;
const objectOrNull = { type: ['object', 'null'] } as const;

const common = {
  type: { type: 'string' },
  userId: id,
  anonymousId: id,
  messageId: { type: ['string', 'number'], minLength: 1, maxLength: 100 },
  context: objectOrNull,
  integrations: objectOrNull,
  properties: objectOrNull,
  traits: objectOrNull,
  version: { type: ['number', 'string'] },
} as const;

const byType: Record<SpecType, { required: string[]; properties: Record<string, unknown> }> = {
  identify: { required: [], properties: {} },
  track: { required: ['event'], properties: { event: { type: 'string', minLength: 1 } } },
  page: { required: [], properties: { name: { type: ['string', 'null'] }, category: { type: ['string', 'null'] } } },
  screen: { required: [], properties: { name: { type: ['string', 'null'] } } },
  group: { required: ['groupId'], properties: { groupId: id } },
  alias: { required: ['previousId', 'userId'], properties: { previousId: id } },
  delete: { required: ['userId'], properties: {} },
};

export const SCHEMAS: Record<SpecType, object> = Object.fromEntries(
  SPEC_TYPES.map((type) => [
    type,
    {
      $id: `segment-${type}`,
      type: 'object',
      required: byType[type].required,
      properties: { ...common, ...byType[type].properties },
    },
  ]),
) as Record<SpecType, object>;
