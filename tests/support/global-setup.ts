/**
 * Starts the emulators once for the whole test run (DynamoDB Local in memory, the SQS emulator in
 * this process) and hands their endpoints to the test workers through the environment. Each test
 * file provisions its own stage from infra/, so files never see each other's data.
 */
import { startEmulators, type Emulators } from '../../local/emulators';
import { freePort } from './ports';

declare global {
  var __EMULATORS__: Emulators | undefined;
}

export default async function globalSetup(): Promise<void> {
  // The SDK's notice that its 2027 releases need Node 22; the lockfile pins the versions we test.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const emulators = await startEmulators({ dynamodbPort: await freePort(), sqsPort: 0, dataDir: null });
  globalThis.__EMULATORS__ = emulators;
  process.env.TEST_DYNAMODB_ENDPOINT = emulators.dynamodbEndpoint;
  process.env.TEST_SQS_ENDPOINT = emulators.sqsEndpoint;
  process.env.TEST_S3_ENDPOINT = emulators.s3Endpoint;
}
