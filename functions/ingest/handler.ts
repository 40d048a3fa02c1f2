/**
 * The ingest Lambda (API Gateway HTTP API, payload 2.0). Dependencies are built once per cold start;
 * the handler only translates the API Gateway event to our request and our answer back.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { loadIngestDeps, createIngestHandler } from '../../lib/ingest/handler';

export const handler: (event: APIGatewayProxyEventV2, context?: Context) => Promise<unknown> = createIngestHandler(loadIngestDeps());
