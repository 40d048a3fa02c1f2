/**
 * The CloudFormation of everything serverless.yml does not declare itself, generated from
 * infra/resources.json, so the deployed tables and queues are the ones the local stack and the
 * tests create: a table added there is deployed, granted and output without touching serverless.yml.
 * One module per concern: settings.ts (stage parameters, checks, logical ids), tables.ts, queues.ts,
 * secrets.ts, iam.ts, alarms.ts, dashboard.ts, queries.ts, outputs.ts, lake.ts; serverless.ts hands
 * the result to serverless.yml.
 */
import { alarms } from './alarms';
import { dashboard } from './dashboard';
import { roles } from './iam';
import { withLake } from './lake';
import { outputs } from './outputs';
import { queryDefinitions } from './queries';
import { queues } from './queues';
import { secrets } from './secrets';
import { checkSettings, stackOf, type Definitions, type Settings, type Template } from './settings';
import { tables } from './tables';

export type { Definitions, Settings } from './settings';

/**
 * The generated part of the stack: `Resources` (tables, queues, secrets, roles, alarms, dashboard,
 * queries, the lake) and `Outputs`. Pure: the tests call it with their own definitions.
 * @throws {Error} listing every invalid setting
 */
export function generateTemplate(definitions: Definitions, settings: Settings): { Resources: Template; Outputs: Template } {
  checkSettings(definitions, settings);
  const stack = stackOf(definitions, settings);
  const template = {
    Resources: {
      ...tables(stack),
      ...queues(stack),
      ...secrets(stack),
      ...roles(stack),
      ...alarms(stack),
      ...dashboard(stack),
      ...queryDefinitions(stack),
    },
    Outputs: outputs(stack),
  };
  return withLake(stack, template);
}
