/**
 * One way to deliver events per route, as its real sender would: the body shape, the path and the
 * credentials each route expects. Conformance tests run the same case over every route with it.
 */
import { gzipSync } from 'node:zlib';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import type { EventType } from '../../lib/spec/event-types';
import type { TestResponse, TestStack } from './stack';

export const EVENT_ROUTES = ['/v1/{type}', '/v1/batch', '/v1/import', '/segment', '/webhook (one event)', '/webhook (array)'] as const;
export type EventRoute = (typeof EVENT_ROUTES)[number];

export interface DeliverOptions {
  contentType?: string;
  gzip?: boolean;
  method?: string;
  headers?: Record<string, string>;
  /** Replace the JSON body with this text (still signed and encoded as the route does). */
  text?: string;
}

/** The path and body text a route's sender would use for `events`. */
export function requestFor(stack: TestStack, route: EventRoute, events: readonly unknown[]): { path: string; text: string } {
  const [first] = events;
  switch (route) {
    case '/v1/{type}':
      return { path: `/v1/${String((first as { type?: unknown } | undefined)?.type)}`, text: JSON.stringify(first) };
    case '/v1/batch':
    case '/v1/import':
      return { path: route, text: JSON.stringify({ batch: events }) };
    case '/segment':
      return { path: '/segment', text: JSON.stringify(first) };
    case '/webhook (one event)':
      return { path: `/webhook/${stack.sourceId}`, text: JSON.stringify(first) };
    case '/webhook (array)':
      return { path: `/webhook/${stack.sourceId}`, text: JSON.stringify(events) };
  }
}

/** Delivers `events` on `route` with the credentials its sender uses (webhooks sign, the rest send the key). */
export async function deliver(
  stack: TestStack,
  route: EventRoute,
  events: readonly unknown[],
  options: DeliverOptions = {},
): Promise<TestResponse> {
  const request = requestFor(stack, route, events);
  const text = options.text ?? request.text;
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json', ...options.headers };
  const isWebhook = route.startsWith('/webhook');
  if (isWebhook && headers['x-signature'] === undefined) headers['x-signature'] = signWebhookPayload(stack.webhookSecret, text);
  if (options.gzip) headers['content-encoding'] = 'gzip';
  return stack.send(request.path, undefined, {
    method: options.method,
    auth: isWebhook ? null : undefined,
    headers,
    raw: options.gzip ? gzipSync(Buffer.from(text)) : text,
  });
}

/** Routes whose body is one event: a case with several events sends one request each. */
export function isSingleEventRoute(route: EventRoute): boolean {
  return route === '/v1/{type}' || route === '/segment' || route === '/webhook (one event)';
}

/** Delivers `events` in as few requests as the route allows. */
export async function deliverAll(
  stack: TestStack,
  route: EventRoute,
  events: readonly unknown[],
  options: DeliverOptions = {},
): Promise<TestResponse[]> {
  if (!isSingleEventRoute(route)) return [await deliver(stack, route, events, options)];
  const responses: TestResponse[] = [];
  for (const event of events) responses.push(await deliver(stack, route, [event], options));
  return responses;
}

/** A label unique to a route, for user ids, so cases of different routes never see each other's items. */
export function routeLabel(route: EventRoute, label: string): string {
  return `${label}-${route.replace(/[^a-z0-9]+/gi, '-')}`;
}

/** Items of `userId` in the table of `type`. */
export async function storedFor(stack: TestStack, type: EventType, userId: string): Promise<Record<string, unknown>[]> {
  return (await stack.scan(type)).filter((item) => item.userId === userId);
}
