/**
 * The types of `cross-fetch` (which @segment/actions-core's types import) without its
 * `/// <reference lib="dom" />`: that line would put the browser's globals into the whole
 * project's program, where Node's fetch types hold (tsconfig.json `paths` points here). At run
 * time cross-fetch gives Node's own fetch classes, which these name.
 */
export declare const fetch: typeof globalThis.fetch;
export declare const Request: typeof globalThis.Request;
export declare const Response: typeof globalThis.Response;
export declare const Headers: typeof globalThis.Headers;
export default fetch;
