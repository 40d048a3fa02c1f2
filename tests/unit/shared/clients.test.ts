import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createClients, createDynamoClients, createSqsClient, createWriteClient } from '../../../lib/shared/clients';

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
    expect(createWriteClient(config, { requestHandler: requestHandler as never }).config.requestHandler).toBe(requestHandler);
  });

  it('builds a document client that leaves out undefined values and refuses class instances, sending through the DynamoDB client', async () => {
    // Prepare: a request handler that keeps what it is sent
    const sent: string[] = [];
    const requestHandler = {
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
      async handle(request: { body: string | Uint8Array }) {
        const { body } = request;
        sent.push(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
        return {
          response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: new TextEncoder().encode('{}') },
        };
      },
    };
    const { documents } = createDynamoClients(config, { requestHandler: requestHandler as never });

    // Act
    await documents.send(new PutCommand({ TableName: 't', Item: { pk: 'a', gone: undefined, nested: { gone: undefined, kept: 1 } } }));
    const classInstance = documents.send(new PutCommand({ TableName: 't', Item: { pk: 'b', at: new Date(0) } }));

    // Assess
    expect(sent.map((body) => (JSON.parse(body) as { Item: unknown }).Item)).toEqual([
      { pk: { S: 'a' }, nested: { M: { kept: { N: '1' } } } },
    ]);
    await expect(classInstance).rejects.toThrow(/^Unsupported type passed/);
    expect(sent).toHaveLength(1);
  });

  it('caches middleware in the batch writer only, never in the client behind the document client', () => {
    // A cached handler would keep the first document command's input (lib/shared/clients.ts).
    const writer = createWriteClient(config);
    const { dynamodb } = createDynamoClients(config);

    expect(writer.config.cacheMiddleware).toBe(true);
    expect(dynamodb.config.cacheMiddleware).toBeFalsy();
    writer.destroy();
    dynamodb.destroy();
  });
});
