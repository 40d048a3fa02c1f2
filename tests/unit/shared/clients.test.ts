import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createClients, createDynamoClients, createSqsClient } from '../../../lib/shared/clients';

const config = { region: 'eu-west-1', dynamodbEndpoint: 'http://127.0.0.1:1', sqsEndpoint: 'http://127.0.0.1:2' };

describe('clients', () => {
  it('builds the SQS client with cached middleware and the configured region', async () => {
    const sqs = createSqsClient(config);

    expect(sqs.config.cacheMiddleware).toBe(true);
    expect(await sqs.config.region()).toBe('eu-west-1');
    sqs.destroy();
  });

  it('ends an SQS request that runs past the given timeout', async () => {
    // Prepare: a server that accepts the request and never answers.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const sqs = createSqsClient({ ...config, sqsEndpoint: `http://127.0.0.1:${port}` }, { sqsRequestTimeoutMs: 200 });
    const started = Date.now();

    // Act
    const sending = sqs.send(new GetQueueUrlCommand({ QueueName: 'q' }));

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2000);
    sqs.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('uses a given request handler for every client', () => {
    const requestHandler = { handle: jest.fn(), updateHttpClientConfig() {}, httpHandlerConfigs: () => ({}) };

    const clients = createClients(config, { requestHandler: requestHandler as never });

    expect(clients.sqs.config.requestHandler).toBe(requestHandler);
    expect(clients.dynamodb.config.requestHandler).toBe(requestHandler);
    expect(createDynamoClients(config).documents.config).toBeDefined();
  });
});
