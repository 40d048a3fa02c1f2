/**
 * The worker Lambda, triggered by the events queue with ReportBatchItemFailures. Dependencies are
 * built once per cold start; the batch logic lives in lib/worker/process-batch.ts.
 */
import { createWorkerHandler, loadWorkerDeps } from '../../lib/worker/handler';

export const handler = createWorkerHandler(loadWorkerDeps());
