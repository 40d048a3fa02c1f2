/**
 * SQL over a deployed stage's lake through Athena, in the stage's workgroup (which holds the result
 * location and the bytes-scanned limit). Not run by the tests: Athena has no emulator. Kept thin:
 * start, wait, read pages, with every value as Athena returns it (text), typed by its metadata.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  type ColumnInfo,
} from '@aws-sdk/client-athena';
import { CliError, EXIT } from '../core/errors';
import type { QueryResult } from './duckdb';

export async function queryAthena(region: string, catalog: { database: string; workgroup: string }, sql: string): Promise<QueryResult> {
  const athena = new AthenaClient({ region });
  try {
    const { QueryExecutionId: id } = await athena.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        WorkGroup: catalog.workgroup,
        QueryExecutionContext: { Database: catalog.database },
      }),
    );
    for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
      const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const state = QueryExecution?.Status?.State;
      if (state === 'SUCCEEDED') break;
      if (state === 'FAILED' || state === 'CANCELLED')
        throw new CliError(`Athena: ${QueryExecution?.Status?.StateChangeReason ?? state}`, EXIT.failed);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    let columns: ColumnInfo[] = [];
    const rows: Array<Record<string, unknown>> = [];
    let token: string | undefined;
    let first = true;
    do {
      const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token }));
      columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? columns;
      // The first row of the first page repeats the column names.
      for (const row of (page.ResultSet?.Rows ?? []).slice(first ? 1 : 0)) {
        rows.push(Object.fromEntries(columns.map((column, i) => [column.Name ?? '', typed(row.Data?.[i]?.VarCharValue, column.Type)])));
      }
      first = false;
      token = page.NextToken;
    } while (token);
    return { columns: columns.map((column) => column.Name ?? ''), rows };
  } finally {
    athena.destroy();
  }
}

function typed(value: string | undefined, type: string | undefined): unknown {
  if (value === undefined) return null;
  if (type && /^(tinyint|smallint|integer|bigint|double|real|float|decimal)/.test(type)) return Number(value);
  if (type === 'boolean') return value === 'true';
  return value;
}
