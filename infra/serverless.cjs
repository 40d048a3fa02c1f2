'use strict';
/**
 * serverless.yml's door to the infrastructure, which is TypeScript (infra/template.ts and the
 * modules beside it, importing the metric names, the route table and the naming from lib/).
 * osls's `${file(...)}` loads only .js/.cjs, with plain `require`, while it resolves variables:
 * before any plugin hook, so a JS file built by esbuild beforehand would need a build step ahead of
 * every `serverless` command and could be stale. Instead this shim compiles the TypeScript as it
 * loads it, with tsx (a runtime dependency; the CLI's bin does the same), through tsx's scoped
 * `require`, which leaves serverless's own `require` untouched.
 */
const { require: tsxRequire } = require('tsx/cjs/api');

const entry = tsxRequire('./serverless.ts', __filename);

module.exports = {
  resources: entry.resources,
  outputs: entry.outputs,
  ingestEvents: entry.ingestEvents,
  webhookEvents: entry.webhookEvents,
  metricsNamespace: entry.metricsNamespace,
};
