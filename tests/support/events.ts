/**
 * Factories for the AWS events the handlers receive, and for Segment events, so tests state only
 * what matters to them.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from 'aws-lambda';

export function httpApiEvent(
  overrides: { method?: string; path?: string; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEventV2 {
  const method = overrides.method ?? 'POST';
  const path = overrides.path ?? '/v1/track';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...overrides.headers },
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'test.local',
      domainPrefix: 'test',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: overrides.body,
    isBase64Encoded: overrides.isBase64Encoded ?? false,
  };
}

export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
    ...overrides,
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

let counter = 0;

/** A realistic Segment event of `type`, with a unique messageId; `overrides` win. */
export function segmentEvent(type: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter++;
  const base: Record<string, unknown> = {
    type,
    messageId: `msg-${Date.now()}-${counter}`,
    userId: `user-${counter % 7}`,
    timestamp: new Date(Date.UTC(2026, 10, 1, 12, 0, 0) + counter * 1000).toISOString(),
    context: { library: { name: 'analytics-node', version: '2.1.0' }, ip: '203.0.113.9' },
    integrations: {},
  };
  const byType: Record<string, Record<string, unknown>> = {
    track: {
      event: 'Order Completed',
      properties: { orderId: `o-${counter}`, total: 27.5, products: [{ sku: 'A-1', price: 9.5, quantity: 2 }] },
    },
    identify: { traits: { email: `user${counter}@example.com`, plan: 'pro', logins: 3 } },
    page: { name: 'Pricing', category: 'Docs', properties: { path: '/pricing', url: 'https://example.com/pricing' } },
    screen: { name: 'Home', properties: { variant: 'B' } },
    group: { groupId: `g-${counter % 3}`, traits: { name: 'Initech', employees: 120 } },
    alias: { previousId: `anon-${counter}` },
    delete: {},
  };
  return { ...base, ...(byType[type] ?? {}), ...overrides };
}
