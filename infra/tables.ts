/**
 * The DynamoDB tables of infra/resources.json, each named `segment-ingest-<stage>-<name>`. The event
 * tables' streams are the lake's (infra/lake.ts adds them).
 */
import { physicalName, tableId, type Stack, type TableSpec, type Template } from './settings';

export function tables(stack: Stack): Template {
  const resources: Template = {};
  for (const [name, table] of Object.entries(stack.definitions.tables)) {
    const keys = [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      ...(table.sortKey ? [{ AttributeName: table.sortKey, KeyType: 'RANGE' }] : []),
    ];
    resources[tableId(name)] = {
      Type: 'AWS::DynamoDB::Table',
      // The data is what this service exists to keep: by default neither removing the stack nor
      // a change that replaces a table deletes it (docs/deploy.md says how to delete it by hand).
      DeletionPolicy: stack.settings.tableDeletionPolicy,
      UpdateReplacePolicy: stack.settings.tableDeletionPolicy,
      Properties: {
        TableName: physicalName(stack, name),
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: keys,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        ...ttlOf(stack, table),
      },
    };
  }
  return resources;
}

/**
 * A table's TTL: its own (`rejected`), or on the event tables the retention's expiry attribute,
 * only when the stage sets `eventRetentionDays` (the worker writes the attribute only then).
 */
function ttlOf(stack: Stack, table: TableSpec): Template {
  const retained = table.kind === 'event' && (stack.settings.eventRetentionDays ?? 0) > 0;
  const attribute = table.ttlAttribute ?? (retained ? stack.definitions.eventTtlAttribute : undefined);
  return attribute ? { TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } } : {};
}
