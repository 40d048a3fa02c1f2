/**
 * The lake Lambda: `handler` is triggered by the event tables' DynamoDB streams, `compact` by a
 * schedule. Both share one bundle and one set of dependencies (lib/lake/handler.ts).
 */
import { createCompactHandler, createLakeHandler, loadLakeDeps } from '../../lib/lake/handler';

const deps = loadLakeDeps();
export const handler = createLakeHandler(deps);
export const compact = createCompactHandler(deps);
