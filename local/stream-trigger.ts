/**
 * Drives the lake handler the way Lambda's DynamoDB stream event source mapping does: each shard of
 * each table's stream read in order, a batch of records per invocation, a failed batch retried from
 * the same position (so the handler sees it again whole, as in Lambda). Every shard is read from its
 * start, but records of shards that existed when the trigger started and that are older than the
 * start (less a minute) are passed over (what `npm start` stored before it was restarted is not sent twice).
 * DynamoDB Local refuses a LATEST iterator's first read on a shard without records
 * (TrimmedDataAccessException), so LATEST is not used.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

export interface StreamTriggerOptions {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  /** Physical names of the tables whose streams to read. */
  tables: readonly string[];
  handler: (event: DynamoDBStreamEvent) => Promise<unknown>;
  batchSize?: number;
  /** Pause after a round over every shard that found nothing. */
  idleDelayMs?: number;
  onBatch?: (info: { records: number; error?: unknown }) => void;
}

export interface StreamTrigger {
  stop(): Promise<void>;
  /** Resolves once a whole round over every shard, started after the call, found nothing. */
  idle(): Promise<void>;
}

interface Shard {
  streamArn: string;
  shardId: string;
  iterator: string | undefined;
  /** The last record handed to the handler; a new iterator starts after it. */
  lastSequence: string | undefined;
  /** Records created before this (epoch ms) are passed over. */
  skipBefore: number;
}

const DISCOVER_EVERY_MS = 2000;

/** What one trigger keeps between rounds. */
interface TriggerState {
  options: StreamTriggerOptions;
  shards: Map<string, Shard>;
  /** False until the first discovery: shards found then pass over records older than the start. */
  started: boolean;
  startedAt: number;
}

/** A new iterator for the shard: after its last record handled, or from its start. */
async function iterate(streams: DynamoDBStreamsClient, shard: Shard): Promise<void> {
  const after = shard.lastSequence !== undefined;
  const { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: shard.streamArn,
      ShardId: shard.shardId,
      ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
      SequenceNumber: shard.lastSequence,
    }),
  );
  shard.iterator = ShardIterator;
}

/** Adds the shards of every table's stream that are not known yet. */
async function discover(state: TriggerState): Promise<void> {
  const { options, shards } = state;
  for (const table of options.tables) {
    const { Table } = await options.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    const streamArn = Table?.LatestStreamArn;
    if (!streamArn) continue;
    let from: string | undefined;
    do {
      const { StreamDescription } = await options.streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: from }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        const shardId = shard.ShardId ?? '';
        if (shards.has(shardId)) continue;
        // Creation times are rounded down to the minute: a minute of margin keeps the records of the start's own minute
        // (and sends those of the minute before a restart twice, which only the local lake sees).
        const entry: Shard = {
          streamArn,
          shardId,
          iterator: undefined,
          lastSequence: undefined,
          skipBefore: state.started ? 0 : state.startedAt - 60_000,
        };
        await iterate(options.streams, entry);
        shards.set(shardId, entry);
      }
      from = StreamDescription?.LastEvaluatedShardId;
    } while (from);
  }
  state.started = true;
}

/** One batch of one shard; returns how many records it held. */
async function poll(options: StreamTriggerOptions, shard: Shard): Promise<number> {
  if (!shard.iterator) return 0;
  let page;
  try {
    page = await options.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: options.batchSize ?? 100 }));
  } catch (error) {
    // An expired or trimmed iterator: a new one, after the last record handled.
    await iterate(options.streams, shard);
    throw error;
  }
  const { NextShardIterator } = page;
  const Records = (page.Records ?? []).filter(
    (record) => (record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? Date.now()) >= shard.skipBefore,
  );
  if (Records.length > 0) {
    try {
      await options.handler({ Records: Records.map((record) => toLambdaRecord(record, shard.streamArn)) });
      options.onBatch?.({ records: Records.length });
    } catch (error) {
      // As Lambda does: the batch is retried from the same position, after a pause.
      options.onBatch?.({ records: Records.length, error });
      await new Promise((resolve) => setTimeout(resolve, 500));
      return Records.length;
    }
  }
  shard.lastSequence = page.Records?.at(-1)?.dynamodb?.SequenceNumber ?? shard.lastSequence;
  shard.iterator = NextShardIterator;
  return Records.length;
}

export function startStreamTrigger(options: StreamTriggerOptions): StreamTrigger {
  const state: TriggerState = { options, shards: new Map(), started: false, startedAt: Date.now() };
  let running = true;
  let quietRounds = 0;

  async function loop(): Promise<void> {
    let discovered = 0;
    while (running) {
      try {
        if (Date.now() - discovered >= DISCOVER_EVERY_MS) {
          await discover(state);
          discovered = Date.now();
        }
        let found = 0;
        for (const shard of state.shards.values()) found += await poll(options, shard);
        if (found > 0) quietRounds = 0;
        else quietRounds++;
        if (found === 0) await new Promise((resolve) => setTimeout(resolve, options.idleDelayMs ?? 100));
      } catch {
        if (!running) return;
        // The emulator is restarting or a table is gone: back off instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  const poller = loop();
  return {
    async stop() {
      running = false;
      await poller;
    },
    async idle() {
      quietRounds = 0;
      while (quietRounds < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

/**
 * The SDK's stream record in the shape Lambda hands a function. Binary attributes stay bytes (Lambda
 * gives base64 text); `unmarshallItem` reads both, and event items hold none.
 */
function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const data = record.dynamodb;
  const created = data?.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: { ...data, ApproximateCreationDateTime: created ? created.getTime() / 1000 : undefined },
  } as DynamoDBRecord;
}
