/**
 * Structured JSON logging through Powertools. Handlers log ids, counts and reasons only: never an
 * event body, trait, key, secret or signature (docs/spec.md section 3).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** What lib/ needs from a logger; Powertools' Logger satisfies it, and tests can pass their own. */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  /**
   * Adds the invocation's Lambda context (request id, function name, version, cold start) to every
   * line that follows, through Powertools' `addContext`; handlers call it once per invocation.
   */
  addContext?(context: Context): void;
}

export function createLogger(serviceName: string, logLevel: string): Log {
  const logger = new Logger({ serviceName, logLevel: logLevel.toUpperCase() as 'INFO' });
  const level =
    (name: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, extra?: Record<string, unknown>): void => {
      if (extra) logger[name](message, extra);
      else logger[name](message);
    };
  return {
    debug: level('debug'),
    info: level('info'),
    warn: level('warn'),
    error: level('error'),
    addContext: (context) => logger.addContext(context),
  };
}

/** A logger that discards everything, for callers that do not want output. */
export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
