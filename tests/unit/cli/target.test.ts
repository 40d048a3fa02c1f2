import { resolveTarget, targetRequest, localTarget } from '../../../cli/core/target';
import { resourcesFromOutputs, tableOutputKey } from '../../../cli/core/stack-outputs';

describe('resourcesFromOutputs', () => {
  it('maps the outputs serverless.yml defines, and names tables by convention where an output is missing', () => {
    const resources = resourcesFromOutputs('prod', {
      HttpApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
      EventsQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/segment-ingest-prod-events',
      DeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/segment-ingest-prod-dead-letter',
      TrackTableName: 'custom-track',
    });

    expect(resources).toMatchObject({
      endpoint: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/segment-ingest-prod-events',
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/segment-ingest-prod-dead-letter',
    });
    expect(resources.tables.track).toBe('custom-track');
    expect(resources.tables.rejected).toBe('segment-ingest-prod-rejected');
    expect(tableOutputKey('rejected')).toBe('RejectedTableName');
  });

  it('falls back to ServiceEndpoint', () => {
    expect(resourcesFromOutputs('dev', { ServiceEndpoint: 'https://x.example' }).endpoint).toBe('https://x.example');
  });
});

describe('resolveTarget', () => {
  it('is the local stack of npm start by default, on the ports it uses', async () => {
    const env = { DYNAMODB_PORT: '8100' };

    const target = await resolveTarget(targetRequest({}, env), env);

    expect(target).toMatchObject({
      kind: 'local',
      stage: 'local',
      endpoint: 'http://127.0.0.1:3000',
      dynamodbEndpoint: 'http://127.0.0.1:8100',
      sqsEndpoint: 'http://127.0.0.1:9324',
    });
    expect(target.tables.track).toBe('segment-ingest-local-track');
  });

  it('is a deployed stage with --stage, from the stack of that stage in that region', async () => {
    const calls: string[] = [];
    const readOutputs = async (stack: string, region: string) => {
      calls.push(`${stack} ${region}`);
      return { HttpApiUrl: 'https://api.example', EventsQueueUrl: 'https://sqs/events', DeadLetterQueueUrl: 'https://sqs/dlq' };
    };

    const target = await resolveTarget(targetRequest({ stage: 'prod', region: 'eu-west-1' }, {}), {}, readOutputs);

    expect(calls).toEqual(['segment-ingest-prod eu-west-1']);
    expect(target).toMatchObject({
      kind: 'aws',
      stage: 'prod',
      region: 'eu-west-1',
      endpoint: 'https://api.example',
      queueUrl: 'https://sqs/events',
      dynamodbEndpoint: undefined,
      sqsEndpoint: undefined,
    });
  });

  it('takes the stage and region from SEGMENT_INGEST_STAGE and AWS_REGION', async () => {
    const env = { SEGMENT_INGEST_STAGE: 'staging', AWS_REGION: 'ap-south-1' };
    const readOutputs = async (stack: string, region: string) => ({ HttpApiUrl: `https://${stack}.${region}` });

    expect((await resolveTarget(targetRequest({}, env), env, readOutputs)).endpoint).toBe('https://segment-ingest-staging.ap-south-1');
  });

  it('is another stage on the emulators with --local --stage', () => {
    expect(localTarget(targetRequest({ stage: 't1', local: true, 'dynamodb-endpoint': 'http://127.0.0.1:1234' }, {}), {})).toMatchObject({
      stage: 't1',
      dynamodbEndpoint: 'http://127.0.0.1:1234',
    });
  });

  it('refuses a bad stage name and emulator endpoints for a deployed stage', async () => {
    await expect(resolveTarget(targetRequest({ stage: 'no/slash' }, {}), {}, async () => ({}))).rejects.toThrow(
      'stage must be 1-40 letters, digits and dashes, got "no/slash"',
    );
    await expect(resolveTarget(targetRequest({ stage: 'prod', 'sqs-endpoint': 'http://x' }, {}), {}, async () => ({}))).rejects.toThrow(
      '--dynamodb-endpoint and --sqs-endpoint are for the local emulators',
    );
  });
});
