/**
 * The ingest router: path parameters (percent-decoded), our own 404 and 405 (with Allow) for
 * whatever API Gateway's `$default` route sends, and route order.
 */
import { MethodNotAllowedError, NotFoundError } from '../../../lib/ingest/http-errors';
import { jsonResponse, requestFromApiGateway, type HttpRequest } from '../../../lib/ingest/http';
import { createRouter, type Route } from '../../../lib/ingest/router';
import { httpApiEvent } from '../../support/events';

function request(method: string, path: string): HttpRequest {
  return requestFromApiGateway(httpApiEvent({ method, path }), 0, 60_000);
}

/** A route that answers with its name and the parameters it was given. */
function route(name: string, path: string, methods: readonly string[] = ['POST']): Route {
  return { path, methods, handler: async (_request, params) => jsonResponse(200, { name, params }) };
}

async function dispatch(routes: readonly Route[], method: string, path: string): Promise<unknown> {
  const response = await createRouter(routes)(request(method, path));
  return JSON.parse(response.body);
}

async function refusal(routes: readonly Route[], method: string, path: string): Promise<unknown> {
  return createRouter(routes)(request(method, path)).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('createRouter', () => {
  const routes = [
    route('batch', '/v1/batch'),
    route('type', '/v1/{type}'),
    route('webhook', '/webhook/{sourceId}', ['POST', 'PUT', 'PATCH']),
    route('health', '/health', ['GET', 'HEAD']),
  ];

  it('hands the route its path parameters by name', async () => {
    expect(await dispatch(routes, 'POST', '/webhook/src-1')).toEqual({ name: 'webhook', params: { sourceId: 'src-1' } });
  });

  it('percent-decodes path parameters', async () => {
    expect(await dispatch(routes, 'PUT', '/webhook/caf%C3%A9%20%2F%3F')).toEqual({ name: 'webhook', params: { sourceId: 'café /?' } });
  });

  it('takes the first route that matches, so a fixed path wins over a parameter declared after it', async () => {
    expect(await dispatch(routes, 'POST', '/v1/batch')).toEqual({ name: 'batch', params: {} });
    expect(await dispatch(routes, 'POST', '/v1/track')).toEqual({ name: 'type', params: { type: 'track' } });
  });

  it('accepts one trailing slash', async () => {
    expect(await dispatch(routes, 'GET', '/health/')).toEqual({ name: 'health', params: {} });
  });

  it('answers 404 for an unknown path, a parameter spanning two segments, or an empty one', async () => {
    for (const path of ['/nowhere', '/webhook/a/b', '/webhook/', '/v1', '/health//']) {
      const error = await refusal(routes, 'POST', path);

      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).message).toBe(`no route for POST ${path}`);
    }
  });

  it('answers 404, naming the problem, when a parameter is not valid percent-encoding', async () => {
    const error = await refusal(routes, 'POST', '/webhook/%E0%A4%A');

    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe('no route for POST /webhook/%E0%A4%A: the path is not valid percent-encoding');
  });

  it('answers 405 with Allow listing the methods of every route on the path', async () => {
    const shared = [route('read', '/things', ['GET']), route('write', '/things', ['POST', 'PUT'])];

    const error = await refusal(shared, 'DELETE', '/things');

    expect(error).toBeInstanceOf(MethodNotAllowedError);
    expect((error as MethodNotAllowedError).status).toBe(405);
    expect((error as MethodNotAllowedError).headers).toEqual({ Allow: 'GET, POST, PUT' });
    expect((error as MethodNotAllowedError).message).toBe('DELETE is not allowed on /things; use GET or POST or PUT');
  });

  it('dispatches a method that another route on the same path allows instead of answering 405', async () => {
    const shared = [route('read', '/things', ['GET']), route('write', '/things', ['POST'])];

    expect(await dispatch(shared, 'POST', '/things')).toEqual({ name: 'write', params: {} });
  });

  it('matches the characters of a path literally, not as a pattern', async () => {
    const dotted = [route('dotted', '/a.b+c')];

    expect(await dispatch(dotted, 'POST', '/a.b+c')).toEqual({ name: 'dotted', params: {} });
    expect(await refusal(dotted, 'POST', '/axbbc')).toBeInstanceOf(NotFoundError);
  });
});
