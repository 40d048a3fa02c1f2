/**
 * A tracking plan of 50 event keys for the benchmark: schemas for every key the bench's events use
 * (bench/fixtures.ts), written as Segment Protocols writes them (rules under `properties.properties`
 * and `properties.traits`, `required`, enums, formats, an array of objects), plus planned events the
 * traffic never sends, as a real plan has. Block mode with unplanned events blocked: every bench
 * event keeps to it, so each request is checked in full and still accepted in full.
 */
import type { PlanDocument } from '../lib/spec/tracking-plan';

const DRAFT = 'http://json-schema.org/draft-07/schema#';

const context = {
  type: 'object',
  properties: {
    ip: { type: 'string' },
    locale: { type: 'string' },
    library: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, version: { type: 'string' } } },
    page: { type: 'object', properties: { url: { type: 'string', format: 'uri' }, path: { type: 'string' } } },
  },
};

const order = {
  $schema: DRAFT,
  type: 'object',
  required: ['properties'],
  properties: {
    context,
    properties: {
      type: 'object',
      required: ['order_id', 'currency', 'revenue'],
      properties: {
        order_id: { type: 'string', pattern: '^ord_' },
        currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
        revenue: { type: 'number', minimum: 0 },
        products: {
          type: 'array',
          items: {
            type: 'object',
            required: ['product_id'],
            properties: { product_id: { type: 'string' }, price: { type: 'number' }, quantity: { type: 'integer', minimum: 1 } },
          },
        },
      },
    },
  },
};

const page = {
  $schema: DRAFT,
  type: 'object',
  properties: {
    context,
    properties: {
      type: 'object',
      required: ['path', 'url'],
      properties: {
        path: { type: 'string' },
        url: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        referrer: { type: 'string' },
      },
    },
  },
};

const identify = {
  $schema: DRAFT,
  type: 'object',
  properties: {
    context,
    traits: {
      type: 'object',
      required: ['email'],
      properties: {
        email: { type: 'string', format: 'email' },
        plan: { type: 'string', enum: ['free', 'team', 'enterprise'] },
        createdAt: { type: 'string', format: 'date-time' },
        logins: { type: 'integer', minimum: 0 },
      },
    },
  },
};

const group = {
  $schema: DRAFT,
  type: 'object',
  properties: {
    traits: { type: 'object', properties: { name: { type: 'string' }, employees: { type: 'integer' }, industry: { type: 'string' } } },
  },
};

const screen = {
  $schema: DRAFT,
  type: 'object',
  properties: { properties: { type: 'object', properties: { variant: { type: 'string', enum: ['A', 'B'] }, build: { type: 'integer' } } } },
};

const used: Record<string, object> = {
  'Order Completed': order,
  'Product Viewed': order,
  'Product Added': order,
  'Signed Up': order,
  'Checkout Started': order,
  Pricing: page,
  'Getting started': page,
  'Warehouse sync is here': page,
  Checkout: page,
  Home: screen,
  identify,
  group,
};

/** The plan: the keys above and planned-but-unsent events up to 50. */
export function benchPlan(): PlanDocument {
  const events: Record<string, object> = { ...used };
  for (let i = 0; Object.keys(events).length < 50; i++) events[`Planned Event ${i}`] = order;
  return { mode: 'block', unplanned: 'block', events };
}
