#!/usr/bin/env node
/**
 * The `segment-ingest` ops CLI. It runs the TypeScript sources through tsx (a dependency), so it
 * works from a fresh `npm ci` without a build step.
 */
'use strict';

// The SDK's notice that its 2027 releases need Node 22: package-lock.json pins the versions in use.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

require('tsx/cjs/api').register();
const { runCli } = require('../cli/main.ts');
const { processIo } = require('../cli/core/io.ts');

// `KEY=$(npm run cli -- keys create ...)` captures npm's own banner too, and the key then gets 401:
// npm prints it on stdout unless run with --silent. Say so where the operator looks.
if (process.env.npm_lifecycle_event === 'cli' && process.env.npm_config_loglevel !== 'silent' && !process.stdout.isTTY) {
  process.stderr.write(
    'segment-ingest: npm printed its own banner on stdout before this output; to capture only the output, run `npm run -s cli -- ...` or `npx segment-ingest ...`\n',
  );
}

// A closed pipe (`segment-ingest events ... | head`) is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

runCli(process.argv.slice(2), processIo()).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`segment-ingest: unexpected error: ${error && error.message ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
