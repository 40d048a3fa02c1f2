/**
 * A deployed stage (`--stage NAME` without `--local`): the CLI finds the endpoint, queues and tables
 * in the outputs of CloudFormation stack `segment-ingest-NAME`, and uses nothing of the local
 * defaults. There is no CloudFormation emulator, so a stand-in answers DescribeStacks in the AWS
 * Query protocol, and the SDK's standard AWS_ENDPOINT_URL_<SERVICE> variables send DynamoDB and SQS
 * calls to the emulators, as they would go to AWS. The bin runs as a child process.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { segmentEvent } from '../support/events';
import { runBin, STACK_FRAME } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let cloudFormation: Server;
let cloudFormationUrl: string;
const described: string[] = [];
let dir: string;

function describeStacksXml(outputs: Record<string, string>, stackName: string): string {
  const members = Object.entries(outputs)
    .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
    .join('');
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${stackName}</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${stackName}/1</StackId><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-11-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

beforeAll(async () => {
  stack = await startTestStack();
  dir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-deployed-'));
  const stackName = `segment-ingest-${stack.config.stage}`;
  cloudFormation = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      described.push(`${params.get('Action') ?? ''} ${params.get('StackName') ?? ''}`);
      if (params.get('StackName') !== stackName) {
        res
          .writeHead(400, { 'content-type': 'text/xml' })
          .end(
            `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${params.get('StackName') ?? ''} does not exist</Message></Error><RequestId>2</RequestId></ErrorResponse>`,
          );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' }).end(
        describeStacksXml(
          {
            HttpApiUrl: stack.url,
            EventsQueueUrl: stack.queues.queueUrl,
            DeadLetterQueueUrl: stack.queues.deadLetterQueueUrl,
            TrackTableName: stack.config.tables.track,
          },
          stackName,
        ),
      );
    });
  });
  await new Promise<void>((resolve) => cloudFormation.listen(0, '127.0.0.1', resolve));
  const address = cloudFormation.address();
  cloudFormationUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await stack.stop();
  await new Promise((resolve) => cloudFormation.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** What an operator's environment for AWS looks like, the service endpoints aside. */
const awsEnv = () => ({
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormationUrl,
  AWS_ENDPOINT_URL_DYNAMODB: stack.config.dynamodbEndpoint ?? '',
  AWS_ENDPOINT_URL_SQS: stack.config.sqsEndpoint ?? '',
  // Local defaults that must not be used for a deployed stage.
  PORT: '1',
  DYNAMODB_PORT: '1',
  SQS_PORT: '1',
});

it('reads the stage from its stack outputs for status', async () => {
  await stack.send('/v1/track', segmentEvent('track', { userId: 'deployed' }));
  await stack.drain();

  const result = await runBin(['status', '--stage', stack.config.stage], { env: awsEnv() });

  expect(result.code).toBe(0);
  expect(described).toContain(`DescribeStacks segment-ingest-${stack.config.stage}`);
  expect(result.stdout).toContain(`status: stage "${stack.config.stage}" in us-east-1 (stack segment-ingest-${stack.config.stage})`);
  expect(result.stdout).toContain(`endpoint  ${stack.url}  healthy`);
  expect(result.stdout).toContain(stack.queues.deadLetterQueueUrl);
  expect(result.stdout).toMatch(/^track +1 +segment-ingest-t[0-9a-f]+-track$/m);
  expect(result.stdout).toContain('(approx.)');
});

it('replays through the HttpApiUrl of the stack, with SEGMENT_INGEST_STAGE', async () => {
  const file = path.join(dir, 'deployed.jsonl');
  writeFileSync(file, `${JSON.stringify(segmentEvent('page', { userId: 'deployed-replay' }))}\n`);

  const result = await runBin(['replay', file, '--key', stack.key], {
    cwd: dir,
    env: { ...awsEnv(), SEGMENT_INGEST_STAGE: stack.config.stage },
  });
  await stack.drain();

  expect(result.code).toBe(0);
  expect(result.stderr).toContain(`to ${stack.url} with key`);
  expect((await stack.scan('page')).filter((item) => item.userId === 'deployed-replay')).toHaveLength(1);
});

it('says which stack it could not find', async () => {
  const result = await runBin(['status', '--stage', 'missing', '--region', 'eu-west-1'], { env: awsEnv() });

  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    'segment-ingest: no CloudFormation stack "segment-ingest-missing" in eu-west-1: is the stage deployed (npx serverless deploy --stage ...), and is the region right (--region)?\n',
  );
  expect(result.stderr).not.toMatch(STACK_FRAME);
});
