/**
 * Runs `serverless package` the way CI can: offline, with no AWS credentials or config, on a copy
 * of the project in a temporary folder, so the developer's `.serverless/` and `dist/` are left
 * alone. The build plugin bundles the real functions with esbuild first, as a deploy would.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Description?: string; Value: unknown }>;
}

export interface PackagedStack {
  template: Template;
  /** Files serverless wrote to `.serverless/`, with their sizes in bytes. */
  artifacts: string[];
  sizes: Record<string, number>;
  /** The file names in each zip artifact. */
  zipEntries: Record<string, string[]>;
}

const root = path.resolve(__dirname, '../..');
/** Not copied: dependencies are linked, and build output or state would hide what the test checks. */
const SKIPPED = new Set(['node_modules', '.git', 'dist', '.serverless', 'coverage', '.data', '.bench']);

/** Packages the service for `stage` (with `args` such as `--param=name=value`) and returns the generated update template. */
export async function packageStack(stage: string, args: readonly string[] = []): Promise<PackagedStack> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-package-'));
  try {
    cpSync(root, workDir, { recursive: true, filter: (source) => !SKIPPED.has(path.relative(root, source)) });
    symlinkSync(path.join(root, 'node_modules'), path.join(workDir, 'node_modules'), 'dir');
    const home = path.join(workDir, '.home');
    mkdirSync(home);

    await promisify(execFile)(process.execPath, [require.resolve('osls/bin/serverless.js'), 'package', '--stage', stage, ...args], {
      cwd: workDir,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
      // Only what a shell needs: no AWS credentials, profile, config file or instance metadata.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        CI: '1',
        AWS_CONFIG_FILE: path.join(home, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-aws-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    }).catch((error: unknown) => {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`serverless package --stage ${stage} failed:\n${stdout}\n${stderr}`, { cause: error });
    });

    const output = path.join(workDir, '.serverless');
    const template = JSON.parse(readFileSync(path.join(output, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
    const artifacts = readdirSync(output);
    return {
      template,
      artifacts,
      sizes: Object.fromEntries(artifacts.map((name) => [name, statSync(path.join(output, name)).size])),
      zipEntries: Object.fromEntries(
        artifacts.filter((name) => name.endsWith('.zip')).map((name) => [name, zipNames(readFileSync(path.join(output, name)))]),
      ),
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The names in a zip's central directory (each record: signature 0x02014b50, name length at 28, name at 46). */
function zipNames(zip: Buffer): string[] {
  const names: string[] = [];
  for (let at = zip.indexOf(CENTRAL_RECORD); at !== -1; at = zip.indexOf(CENTRAL_RECORD, at + 46)) {
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
  }
  return names;
}

const CENTRAL_RECORD = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
