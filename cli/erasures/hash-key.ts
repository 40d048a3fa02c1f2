/**
 * The secrets a stage names users with, as the CLI reads them: the erasure hash key (erasure
 * records, lib/tables/erasures.ts `userHash`) and the privacy hash key (privacy policies,
 * lib/shared/privacy-hash.ts). Each: its SEGMENT_INGEST_* variable when set; for the local stack,
 * the file `npm start` keeps in `.data/` (or `$DATA_DIR`); for a deployed stage, the Secrets
 * Manager secret of its stack output, read with your AWS credentials.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CommandDeps } from '../core/command';
import { CliError, EXIT } from '../core/errors';
import type { Target } from '../core/target';

interface StageKey {
  /** The variable that overrides the rest, and the function's own variable it holds. */
  cliVariable: string;
  functionVariable: string;
  file: string;
  output: 'ErasureHashKeySecretArn' | 'PrivacyHashKeySecretArn';
  arn: (target: Target) => string | undefined;
  what: string;
}

const ERASURE_KEY: StageKey = {
  cliVariable: 'SEGMENT_INGEST_ERASURE_HASH_KEY',
  functionVariable: 'ERASURE_HASH_KEY',
  file: 'erasure-hash-key',
  output: 'ErasureHashKeySecretArn',
  arn: (target) => target.erasureHashKeySecretArn,
  what: 'erasure hash key',
};

const PRIVACY_KEY: StageKey = {
  cliVariable: 'SEGMENT_INGEST_PRIVACY_HASH_KEY',
  functionVariable: 'PRIVACY_HASH_KEY',
  file: 'privacy-hash-key',
  output: 'PrivacyHashKeySecretArn',
  arn: (target) => target.privacyHashKeySecretArn,
  what: 'privacy hash key',
};

type Env = Record<string, string | undefined>;

export function readErasureHashKey(target: Target, env: Env, cwd: string, deps: CommandDeps): Promise<string> {
  return readStageKey(ERASURE_KEY, target, env, cwd, deps);
}

/** The stage's PRIVACY_HASH_KEY text (a key, or `<version>:<key>` entries, current first). */
export function readPrivacyHashKey(target: Target, env: Env, cwd: string, deps: CommandDeps): Promise<string> {
  return readStageKey(PRIVACY_KEY, target, env, cwd, deps);
}

async function readStageKey(key: StageKey, target: Target, env: Env, cwd: string, deps: CommandDeps): Promise<string> {
  const fromEnv = env[key.cliVariable];
  if (fromEnv) return fromEnv;
  if (target.kind === 'local') {
    const file = path.resolve(cwd, env.DATA_DIR ?? '.data', key.file);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    throw new CliError(
      `no ${key.what} at ${file}: it is made by the first \`npm start\`; or set ${key.cliVariable} to the stage's ${key.functionVariable}`,
      EXIT.failed,
    );
  }
  const arn = key.arn(target);
  if (!arn) {
    throw new CliError(
      `stage "${target.stage}" has no ${key.output} output (deployed before it existed?): deploy it again, or set ${key.cliVariable}`,
      EXIT.failed,
    );
  }
  return (deps.readSecret ?? readSecret)(arn, target.region);
}

async function readSecret(secretId: string, region: string): Promise<string> {
  const client = new SecretsManagerClient({ region });
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!SecretString) throw new CliError(`the secret ${secretId} has no text value`, EXIT.failed);
    return SecretString;
  } finally {
    client.destroy();
  }
}
