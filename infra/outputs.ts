/**
 * The stack's outputs: the endpoint, the queues, every table, the alarm topic, the secrets and the
 * dashboard. The CLI finds a stage's resources here (cli/core/), so a table the stage was pointed
 * at (`tableOverrides`) is what it reads too. The lake's are infra/lake.ts's.
 */
import { queueId, ref, tableId, tableOverridesOf, type Stack, type Template } from './settings';

export function outputs(stack: Stack): Template {
  const result: Template = {
    SegmentEndpointUrl: {
      Description: 'Segment Direct destination endpoint (POST, Basic key); serverless adds HttpApiUrl, the base URL',
      Value: { 'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/segment' },
    },
  };
  for (const name of Object.keys(stack.definitions.queues)) {
    result[`${queueId(name)}Url`] = { Description: `URL of the ${name} queue`, Value: ref(queueId(name)) };
    result[`${queueId(name)}Name`] = { Description: `Name of the ${name} queue`, Value: { 'Fn::GetAtt': [queueId(name), 'QueueName'] } };
  }
  const { overrides } = tableOverridesOf(stack);
  for (const name of Object.keys(stack.definitions.tables)) {
    result[`${tableId(name)}Name`] = { Description: `Name of the ${name} table`, Value: overrides[name] ?? ref(tableId(name)) };
  }
  result.AlarmTopicArn = { Description: 'SNS topic the alarms publish to', Value: ref('AlarmTopic') };
  result.ErasureHashKeySecretArn = {
    Description: 'Secrets Manager secret the erasure records name users with (segment-ingest erasures show reads it)',
    Value: ref('ErasureHashKeySecret'),
  };
  result.PrivacyHashKeySecretArn = {
    Description:
      'Secrets Manager secret privacy policies hash with (segment-ingest events/profile/erasures --user read it for sources that hash ids)',
    Value: ref('PrivacyHashKeySecret'),
  };
  result.DashboardUrl = {
    Description: 'CloudWatch dashboard of the pipeline',
    Value: {
      'Fn::Sub': `https://\${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=\${AWS::Region}#dashboards:name=${stack.prefix}`,
    },
  };
  return result;
}
