/**
 * The secret the erasure records of a stage name users with (lib/worker/erasure.ts `userHash`):
 * SEGMENT_INGEST_ERASURE_HASH_KEY when set; for the local stack, the one `npm start` keeps in
 * `.data/erasure-hash-key` (or `$DATA_DIR/erasure-hash-key`); for a deployed stage, the Secrets
 * Manager secret of its stack output `ErasureHashKeySecretArn`, read with your AWS credentials.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CommandDeps } from '../core/command';
import { CliError, EXIT } from '../core/errors';
import type { Target } from '../core/target';

export async function readErasureHashKey(
  target: Target,
  env: Record<string, string | undefined>,
  cwd: string,
  deps: CommandDeps,
): Promise<string> {
  const fromEnv = env.SEGMENT_INGEST_ERASURE_HASH_KEY;
  if (fromEnv) return fromEnv;
  if (target.kind === 'local') {
    const file = path.resolve(cwd, env.DATA_DIR ?? '.data', 'erasure-hash-key');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    throw new CliError(
      `no erasure hash key at ${file}: it is made by the first \`npm start\`; or set SEGMENT_INGEST_ERASURE_HASH_KEY to the stage's ERASURE_HASH_KEY`,
      EXIT.failed,
    );
  }
  if (!target.erasureHashKeySecretArn) {
    throw new CliError(
      `stage "${target.stage}" has no ErasureHashKeySecretArn output (deployed before the keyed hash?): deploy it again, or set SEGMENT_INGEST_ERASURE_HASH_KEY`,
      EXIT.failed,
    );
  }
  return (deps.readSecret ?? readSecret)(target.erasureHashKeySecretArn, target.region);
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
