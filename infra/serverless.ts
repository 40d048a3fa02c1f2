/**
 * What serverless.yml reads from the TypeScript infrastructure, through infra/serverless.cjs:
 * `${file(./infra/serverless.cjs):resources}` and `:outputs` (the generated template, called with
 * serverless's variable resolver: that is how stage parameters reach it), `:ingestEvents` and
 * `:webhookEvents` (the routes of the two functions running the ingest bundle) and `:metricsNamespace`.
 */
import { METRICS_NAMESPACE } from '../lib/shared/metrics';
import { EVENT_TTL_ATTRIBUTE, QUEUES, SERVICE_NAME, TABLES } from './index';
import { ingestEvents as ingestRouteEvents, webhookEvents as webhookRouteEvents } from './routes';
import { readSettings, type Definitions, type Resolver } from './settings';
import { generateTemplate } from './template';

/** infra/resources.json as infra/index.ts checked it: the tables the functions know by name (`TABLE_NAMES`). */
const definitions: Definitions = { service: SERVICE_NAME, eventTtlAttribute: EVENT_TTL_ATTRIBUTE, tables: TABLES, queues: QUEUES };

export const resources = async (resolver: Resolver) => generateTemplate(definitions, await readSettings(resolver)).Resources;
export const outputs = async (resolver: Resolver) => generateTemplate(definitions, await readSettings(resolver)).Outputs;
export const ingestEvents = () => ingestRouteEvents();
export const webhookEvents = () => webhookRouteEvents();
export const metricsNamespace = METRICS_NAMESPACE;
