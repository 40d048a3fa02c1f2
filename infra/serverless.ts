/**
 * What serverless.yml reads from the TypeScript infrastructure, through infra/serverless.cjs:
 * `${file(./infra/serverless.cjs):resources}` and `:outputs` (the generated template, called with
 * serverless's variable resolver: that is how stage parameters reach it), `:ingestEvents` (the
 * ingest function's routes) and `:metricsNamespace`.
 */
import { METRICS_NAMESPACE } from '../lib/shared/metrics';
import resourcesJson from './resources.json';
import { ingestEvents as routeEvents } from './routes';
import { readSettings, type Definitions, type Resolver } from './settings';
import { generateTemplate } from './template';

const definitions = resourcesJson as Definitions;

export const resources = async (resolver: Resolver) => generateTemplate(definitions, await readSettings(resolver)).Resources;
export const outputs = async (resolver: Resolver) => generateTemplate(definitions, await readSettings(resolver)).Outputs;
export const ingestEvents = () => routeEvents();
export const metricsNamespace = METRICS_NAMESPACE;
