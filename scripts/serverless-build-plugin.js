// @ts-check
'use strict';
/**
 * A local serverless plugin that makes `serverless package` and `serverless deploy` build the
 * bundles themselves (`scripts/build.ts`, esbuild, offline), so a deploy never ships a stale or
 * missing `dist/`. Set SEGMENT_INGEST_SKIP_BUILD=1 to package bundles built earlier (a CI job that
 * built and tested them once); the plugin then only checks that every bundle exists.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

class BuildPlugin {
  /**
   * @param {{
   *   serviceDir?: string,
   *   config: { serviceDir?: string },
   *   service: { functions: Record<string, { handler?: string }> },
   *   classes: { Error: new (message: string) => Error },
   * }} serverless
   * @param {unknown} _options
   * @param {{ log: { notice: (message: string) => void } }} utils
   */
  constructor(serverless, _options, utils) {
    this.serviceDir = serverless.serviceDir ?? serverless.config.serviceDir ?? process.cwd();
    // `dist/lake/index.compact` is in dist/lake/index.js: two functions may share one bundle.
    this.bundles = () =>
      Object.entries(serverless.service.functions).map(([name, fn]) =>
        (fn.handler ?? `dist/${name}/index.handler`).replace(/\.[^./]+$/, '.js'),
      );
    this.log = utils.log;
    // serverless prints its own Error class as a plain message, not a stack trace.
    this.UserError = serverless.classes.Error;
    this.built = false;
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.build(),
      'before:package:function:package': () => this.build(),
    };
  }

  build() {
    if (this.built) return;
    this.built = true;
    if (process.env.SEGMENT_INGEST_SKIP_BUILD === '1') {
      this.log.notice('SEGMENT_INGEST_SKIP_BUILD=1: packaging the bundles already in dist/');
    } else {
      const result = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'scripts/build.ts'], {
        cwd: this.serviceDir,
        stdio: 'inherit',
      });
      if (result.status !== 0) throw new this.UserError(`scripts/build.ts failed (exit ${result.status ?? result.signal})`);
    }
    for (const file of this.bundles()) {
      const bundle = path.join(this.serviceDir, file);
      if (!fs.existsSync(bundle)) throw new this.UserError(`${path.relative(this.serviceDir, bundle)} is missing: run npm run build`);
    }
  }
}

module.exports = BuildPlugin;
