/**
 * A small router for the one ingest function: API Gateway may send every path to it (a `$default`
 * route), so unknown paths and methods get our JSON 404 and 405 rather than a gateway page.
 */
import { MethodNotAllowedError, NotFoundError } from './http-errors';
import type { HttpRequest, HttpResponse } from './http';

export type RouteHandler = (request: HttpRequest, params: Record<string, string>) => Promise<HttpResponse>;

export interface Route {
  /** Path pattern; `{name}` matches one non-empty segment. */
  path: string;
  methods: readonly string[];
  handler: RouteHandler;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

/** Compiles routes once; the returned function dispatches a request or throws 404/405. */
export function createRouter(routes: readonly Route[]): (request: HttpRequest) => Promise<HttpResponse> {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names: string[] = [];
    const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_match, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    return { ...route, names, pattern: new RegExp(`^${source}/?$`) };
  });

  return async (request) => {
    const allowed = new Set<string>();
    for (const route of compiled) {
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      if (!route.methods.includes(request.method)) {
        // A preflight is the browser's business, not a method to suggest to the sender.
        route.methods.forEach((m) => m !== 'OPTIONS' && allowed.add(m));
        continue;
      }
      const params = decodeParams(route.names, match);
      if (!params) throw new NotFoundError(`no route for ${request.method} ${request.path}: the path is not valid percent-encoding`);
      return route.handler(request, params);
    }
    if (allowed.size > 0) {
      throw new MethodNotAllowedError(`${request.method} is not allowed on ${request.path}; use ${[...allowed].join(' or ')}`, [
        ...allowed,
      ]);
    }
    throw new NotFoundError(`no route for ${request.method} ${request.path}`);
  };
}

/** Path parameters, percent-decoded; `undefined` when a segment is not valid percent-encoding. */
function decodeParams(names: readonly string[], match: RegExpExecArray): Record<string, string> | undefined {
  try {
    return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
  } catch {
    return undefined;
  }
}
