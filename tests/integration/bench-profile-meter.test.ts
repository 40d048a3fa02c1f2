/**
 * The site-day pass's meter (bench/profile-meter.ts) on DynamoDB Local: requests for the profiles
 * table reach DynamoDB Local and are billed as DynamoDB bills them (the larger of the old and new
 * item per KB for a write, a failed condition included; 4 KB reads, halved when eventually
 * consistent, a missing key at the minimum); requests for other tables go to the fake.
 */
import {
  BatchExecuteStatementCommand,
  BatchGetItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { resourceName } from '../../infra';
import { provisionTables } from '../../local/provision';
import { FakeAws } from '../../bench/fake-aws';
import { profileTables, ProfileRouter, statementKey } from '../../bench/profile-meter';

const endpoint = process.env.TEST_DYNAMODB_ENDPOINT ?? '';
const stage = `meter${Date.now().toString(36)}`;
const table = resourceName(stage, 'profiles');
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let fake: FakeAws;
let router: ProfileRouter;
let client: DynamoDBClient;

beforeAll(async () => {
  const admin = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  await provisionTables(admin, stage, { streams: false });
  admin.destroy();
  fake = new FakeAws({ items: { '-sources': { sourceId: 'bench' } } });
  router = new ProfileRouter(fake, endpoint, profileTables(stage));
  client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, requestHandler: router as never, maxAttempts: 1 });
});

afterAll(() => client.destroy());

const key = (pk: string) => ({ pk: { S: pk }, sk: { S: 'profile' } });
const big = 'x'.repeat(3500);

describe('the profile meter', () => {
  it('bills a write by the larger of the old and new item, and a failed condition too', async () => {
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key('a'), big: { S: big } } }));
    expect(router.takeMeter().writeUnits).toBe(4);

    // Shrinking a 3.5 KB item bills its old size.
    await client.send(new UpdateItemCommand({ TableName: table, Key: key('a'), UpdateExpression: 'REMOVE big' }));
    expect(router.takeMeter().writeUnits).toBe(4);

    await client.send(new PutItemCommand({ TableName: table, Item: { ...key('a'), big: { S: big } } }));
    router.takeMeter();
    await expect(
      client.send(new PutItemCommand({ TableName: table, Item: key('a'), ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toThrow(/conditional/i);
    expect(router.takeMeter().writeUnits).toBe(4);
  });

  it('bills PartiQL statements one by one, refused or not', async () => {
    await client.send(
      new BatchExecuteStatementCommand({
        Statements: [
          { Statement: `INSERT INTO "${table}" VALUE {'pk': ?, 'sk': ?, 'n': ?}`, Parameters: [{ S: 'b' }, { S: 'profile' }, { N: '1' }] },
          // Refused: the item exists (3.5 KB, 4 units).
          { Statement: `INSERT INTO "${table}" VALUE {'pk': ?, 'sk': ?}`, Parameters: [{ S: 'a' }, { S: 'profile' }] },
        ],
      }),
    );
    expect(router.takeMeter().writeUnits).toBe(1 + 4);
  });

  it('bills reads per 4 KB, half when eventually consistent, a missing key at the minimum', async () => {
    const { Responses } = await client.send(
      new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key('a'), key('missing')], ConsistentRead: false } } }),
    );
    expect(Responses?.[table]).toHaveLength(1);
    expect(router.takeMeter()).toMatchObject({ readUnits: 0.5 + 0.5, requests: { BatchGetItem: 1 } });
  });

  it('sends other tables to the fake, unmetered', async () => {
    await client.send(new PutItemCommand({ TableName: resourceName(stage, 'track'), Item: key('c') }));
    expect(fake.observed.requests['DynamoDB.PutItem']).toBe(1);
    expect(router.takeMeter()).toEqual({ writeUnits: 0, readUnits: 0, requests: {}, byItem: {} });
  });
});

describe('profileTables', () => {
  it('meters the profiles table and no table the bench answers in process', () => {
    const tables = profileTables('s');

    expect(tables.get(resourceName('s', 'profiles'))).toEqual(['pk', 'sk']);
    expect(tables.has(resourceName('s', 'track'))).toBe(false);
    expect(tables.has(resourceName('s', 'erasures'))).toBe(false);
  });
});

describe('statementKey', () => {
  it('finds the key among parameters and literals', () => {
    expect(
      statementKey(`UPDATE "t" SET "x" = ? WHERE "pk" = ? AND "sk" = ? AND "rev" = ?`, [{ N: '1' }, { S: 'p' }, { S: 's' }, { N: '0' }]),
    ).toEqual({
      pk: { S: 'p' },
      sk: { S: 's' },
    });
    expect(statementKey(`DELETE FROM "t" WHERE pk = 'it''s' AND sk = 'profile'`)).toEqual({ pk: { S: "it's" }, sk: { S: 'profile' } });
    expect(statementKey(`SELECT * FROM "t" WHERE "rev" = ?`, [{ N: '1' }])).toBeUndefined();
  });
});
