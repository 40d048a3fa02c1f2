/**
 * writeItems: what goes over the wire (byte for byte what the document client would send), which
 * owners fail, what is refused, and how unprocessed items and transient errors are retried.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dedupeWrites, refusalReason, writeItems, type WriteRequest } from '../../../lib/worker/write';
import { marshallItem, unmarshallItem, UnsupportedValueError } from '../../../lib/tables/dynamo-wire';
import { translateAwsError } from '../../../lib/shared/errors';
import { silentLog } from '../../../lib/shared/log';
import { fakeDynamoDb } from '../../support/fake-dynamodb';
import { segmentEvent } from '../../support/events';
import { noWaitClock, steppedClock } from '../../support/clock';

const FAR = Date.now() + 60_000;

function write(table: string, item: Record<string, unknown>, owner = 'm1'): WriteRequest {
  return { table, item, owners: [owner] };
}

/**
 * The writer over a fake answering with `answer`, and the document client over a fake of its own,
 * so a test can tell which client sent what: Lambda's path is the writer for every item the worker
 * builds from JSON; the document client only puts items one by one and converts what the writer cannot.
 */
function clients(answer?: Parameters<typeof fakeDynamoDb>[0], documentAnswer?: Parameters<typeof fakeDynamoDb>[0]) {
  const wire = fakeDynamoDb(answer);
  const document = fakeDynamoDb(documentAnswer);
  return { documents: document.documents, writer: wire.writer, requests: wire.requests, documentRequests: document.requests };
}

const odd: Record<string, unknown> = {
  pk: 'src#u1',
  sk: '2026-01-01T00:00:00.000Z#odd',
  text: '',
  nothing: null,
  yes: true,
  zero: -0,
  float: 0.1,
  big: 9007199254740991,
  small: -9007199254740991,
  nested: { a: [1, 'two', { three: [null, false, undefined] }, undefined], empty: {}, list: [], gone: undefined },
  unicode: 'Übersicht – 🙂',
  gone: undefined,
};

describe('writeItems on the wire', () => {
  it('sends exactly what the document client sends for the same items', async () => {
    // Prepare
    const items = [
      { pk: 'src#u1', sk: '2026-01-01T00:00:00.000Z#m1', ...segmentEvent('track') },
      { pk: 'src#u2', sk: '2026-01-01T00:00:00.000Z#m2', ...segmentEvent('identify') },
      odd,
    ];
    const reference = fakeDynamoDb();
    await reference.documents.send(new BatchWriteCommand({ RequestItems: { t: items.map((Item) => ({ PutRequest: { Item } })) } }));
    const ours = fakeDynamoDb();

    // Act
    await writeItems(
      { documents: ours.documents, writer: ours.writer, concurrency: 1, log: silentLog },
      items.map((item) => write('t', item)),
      FAR,
    );

    // Assess
    expect(ours.requests.map((r) => r.text)).toEqual(reference.requests.map((r) => r.text));
  });

  it('keeps keys named __proto__ and constructor as data, where the document client loses or refuses them', async () => {
    // Prepare: JSON.parse makes "__proto__" an own property, as the worker's queue messages do.
    const item = JSON.parse(
      '{"pk":"src#u3","sk":"s","__proto__":{"polluted":1},"p":{"__proto__":{"x":1},"constructor":"c","y":[{"__proto__":2}]}}',
    );
    const ours = fakeDynamoDb();

    // Act
    await writeItems({ documents: ours.documents, writer: ours.writer, concurrency: 1, log: silentLog }, [write('t', item)], FAR);

    // Assess
    expect(ours.requests.map((r) => r.text)).toEqual([
      '{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"src#u3"},"sk":{"S":"s"},"__proto__":{"M":{"polluted":{"N":"1"}}},' +
        '"p":{"M":{"__proto__":{"M":{"x":{"N":"1"}}},"constructor":{"S":"c"},"y":{"L":[{"M":{"__proto__":{"N":"2"}}}]}}}}}}]}}',
    ]);
  });

  it('puts 25 items in a call, one table after another, in parallel lanes', async () => {
    const { documents, writer, requests } = fakeDynamoDb();
    const writes = Array.from({ length: 60 }, (_, i) => write(i % 2 ? 'b' : 'a', { pk: `p${i}`, sk: 's' }));

    const outcome = await writeItems({ documents, writer, concurrency: 4, log: silentLog }, writes, FAR);

    expect(outcome).toMatchObject({ requests: 3, written: 60, retries: 0, refused: [] });
    expect(outcome.failedOwners.size).toBe(0);
    expect(
      requests.map((r) =>
        Object.entries(r.body.RequestItems as Record<string, unknown[]>)
          .map(([t, l]) => `${t}:${l.length}`)
          .join(','),
      ),
    ).toEqual(['a:25', 'a:5,b:20', 'b:10']);
  });
});

describe('writeItems with a writer client', () => {
  it('sends items it cannot convert itself through the document client, which refuses them before any request', async () => {
    const { documents, writer, requests } = fakeDynamoDb();

    const unsafe = await writeItems(
      { documents, writer, concurrency: 1, log: silentLog },
      [write('t', { pk: 'n', sk: 's', n: 2 ** 60 })],
      FAR,
    );

    expect(requests).toEqual([]);
    expect(unsafe.refused.map((r) => r.reason)).toEqual(['the item holds a number beyond 2^53 or not finite, which DynamoDB cannot store']);
  });

  it('keeps the deadline when the writer never answers', async () => {
    const { documents } = fakeDynamoDb();
    const writer = { send: () => new Promise(() => {}) } as unknown as DynamoDBClient;
    const started = Date.now();

    const outcome = await writeItems(
      { documents, writer, concurrency: 1, log: silentLog },
      [write('t', { pk: 'a', sk: '1' })],
      Date.now() + 200,
    );

    expect([...outcome.failedOwners]).toEqual(['m1']);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('writeItems failures', () => {
  it('retries unprocessed items through the writer until they are written', async () => {
    const { documents, writer, requests, documentRequests } = clients((request, index) => {
      if (index > 0) return undefined;
      const items = (request.body.RequestItems as Record<string, Array<{ PutRequest: unknown }>>).t ?? [];
      return { body: { UnprocessedItems: { t: items.slice(1) } } };
    });
    const writes = [write('t', { pk: 'a', sk: '1' }, 'm1'), write('t', { pk: 'b', sk: '2' }, 'm2'), write('t', { pk: 'c', sk: '3' }, 'm3')];

    const outcome = await writeItems({ documents, writer, concurrency: 1, log: silentLog, clock: noWaitClock }, writes, FAR);

    expect(outcome).toMatchObject({ requests: 2, written: 3, retries: 2 });
    expect(outcome.failedOwners.size).toBe(0);
    expect(((requests[1]?.body.RequestItems as Record<string, unknown[]>).t ?? []).length).toBe(2);
    expect(documentRequests).toEqual([]);
  });

  it('fails only the owners of items still unprocessed when the time is up', async () => {
    const { documents, writer, documentRequests } = clients((request) => {
      const items = (request.body.RequestItems as Record<string, Array<{ PutRequest: { Item: { pk: { S: string } } } }>>).t ?? [];
      return { body: { UnprocessedItems: { t: items.filter((i) => i.PutRequest.Item.pk.S === 'b') } } };
    });
    const writes = [write('t', { pk: 'a', sk: '1' }, 'm1'), write('t', { pk: 'b', sk: '2' }, 'm2')];

    const outcome = await writeItems({ documents, writer, concurrency: 1, log: silentLog, clock: steppedClock() }, writes, 1000);

    expect([...outcome.failedOwners]).toEqual(['m2']);
    expect(outcome.written).toBe(1);
    expect(documentRequests).toEqual([]);
  });

  it('retries transient errors and fails the owners when they persist', async () => {
    const { documents, writer, requests, documentRequests } = clients(() => ({
      status: 500,
      body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'boom' },
    }));

    const outcome = await writeItems(
      { documents, writer, concurrency: 1, log: silentLog, clock: steppedClock() },
      [write('t', { pk: 'a', sk: '1' })],
      2000,
    );

    expect(requests.length).toBeGreaterThan(1);
    expect(requests.every((r) => r.operation === 'BatchWriteItem')).toBe(true);
    expect([...outcome.failedOwners]).toEqual(['m1']);
    expect(documentRequests).toEqual([]);
  });

  it('writes a refused batch one by one and reports the item DynamoDB (or marshalling) refuses', async () => {
    const { documents, writer, requests } = fakeDynamoDb((request) => {
      if (request.operation === 'BatchWriteItem')
        return {
          status: 400,
          body: {
            __type: 'com.amazonaws.dynamodb.v20120810#ValidationException',
            message: 'Item size has exceeded the maximum allowed size',
          },
        };
      const item = request.body.Item as { pk: { S: string } };
      return item.pk.S === 'big'
        ? {
            status: 400,
            body: {
              __type: 'com.amazonaws.dynamodb.v20120810#ValidationException',
              message: 'Item size has exceeded the maximum allowed size',
            },
          }
        : undefined;
    });
    const writes = [
      write('t', { pk: 'ok', sk: '1' }, 'm1'),
      write('t', { pk: 'big', sk: '2' }, 'm2'),
      write('t', { pk: 'huge-number', sk: '3', n: 2 ** 60 }, 'm3'),
    ];

    const outcome = await writeItems({ documents, writer, concurrency: 1, log: silentLog }, writes, FAR);

    expect(outcome.written).toBe(1);
    expect(outcome.failedOwners.size).toBe(0);
    expect(outcome.refused.map((r) => [r.write.item.pk, r.reason])).toEqual([
      // Our words, not DynamoDB's or the SDK's text.
      ['big', "DynamoDB refused the item: it is larger than DynamoDB's 400 KB item limit"],
      ['huge-number', 'the item holds a number beyond 2^53 or not finite, which DynamoDB cannot store'],
    ]);
    expect(requests.map((r) => r.operation)).toEqual(['PutItem', 'PutItem']);
  });
});

describe('writeItems when the failure is not about an item', () => {
  const accessDenied = {
    status: 400,
    body: { __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message: 'not allowed' },
  };

  it('fails the owners of puts DynamoDB will not take for a reason of ours, quarantines nothing, and reports the errors', async () => {
    // Prepare: the role may not write to the table, whichever client asks
    const log = silentLog;
    const { documents, writer, requests } = clients(
      () => accessDenied,
      () => accessDenied,
    );
    const writes = [write('t', { pk: 'a', sk: '1' }, 'm1'), write('t', { pk: 'b', sk: '2' }, 'm2')];

    // Act
    const outcome = await writeItems({ documents, writer, concurrency: 1, log }, writes, FAR);

    // Assess
    expect([...outcome.failedOwners].sort()).toEqual(['m1', 'm2']);
    expect(outcome.refused).toEqual([]);
    expect(requests.map((r) => r.operation)).toEqual(['BatchWriteItem', 'PutItem', 'PutItem']);
    // The caller (process-batch.ts) logs them once and counts them as DependencyErrors{kind=configuration}.
    expect(outcome.configurationErrors.map((e) => [e.kind, e.service, e.code])).toEqual([
      ['configuration', 'DynamoDB', 'AccessDeniedException'],
      ['configuration', 'DynamoDB', 'AccessDeniedException'],
    ]);
  });

  it('fails the owners of deletes in a refused batch without putting anything', async () => {
    const { documents, writer, documentRequests } = clients(() => accessDenied);

    const outcome = await writeItems(
      { documents, writer, concurrency: 1, log: silentLog },
      [{ table: 't', item: { pk: 'a', sk: '1' }, action: 'delete', owners: ['m1'] }],
      FAR,
    );

    expect([...outcome.failedOwners]).toEqual(['m1']);
    expect(documentRequests).toEqual([]);
  });
});

describe('marshallItem', () => {
  it('refuses, with an error naming no value, what JSON cannot hold', () => {
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      -(2 ** 53),
      new Set(['a']),
      new Map(),
      Buffer.from('x'),
      10n,
      new Date(0),
    ]) {
      expect(() => marshallItem({ pk: 'p', value })).toThrow(UnsupportedValueError);
      expect(() => marshallItem({ pk: 'p', nested: { list: [value] } })).toThrow(/^the item holds .*, which DynamoDB cannot store$/);
    }
  });

  it('converts objects whatever their keys, including null-prototype objects', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });

    expect(marshallItem({ pk: 'p', bare, c: { constructor: 'x', toString: 'y', hasOwnProperty: 'z', prototype: 'w' } })).toEqual({
      pk: { S: 'p' },
      bare: { M: { a: { N: '1' } } },
      c: { M: { constructor: { S: 'x' }, toString: { S: 'y' }, hasOwnProperty: { S: 'z' }, prototype: { S: 'w' } } },
    });
  });

  it('converts JSON values', () => {
    expect(marshallItem({ s: 'x', n: 1.5, b: false, z: null, l: [1, undefined, 'a'], m: { k: { j: [] } }, u: undefined })).toEqual({
      s: { S: 'x' },
      n: { N: '1.5' },
      b: { BOOL: false },
      z: { NULL: true },
      l: { L: [{ N: '1' }, { S: 'a' }] },
      m: { M: { k: { M: { j: { L: [] } } } } },
    });
  });
});

describe('unmarshallItem', () => {
  it('gives back what marshallItem wrote, every key as data', () => {
    const item = JSON.parse(
      '{"pk":"p","n":-1.5e3,"b":true,"z":null,"l":[1,"a",[],{}],"m":{"__proto__":{"constructor":"x"},"toString":[false]}}',
    ) as Record<string, unknown>;

    const back = unmarshallItem(marshallItem(item), 'throw');

    expect(back).toEqual(item);
    const m = back.m as Record<string, unknown>;
    expect(Object.keys(m)).toEqual(['__proto__', 'toString']);
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(m, '__proto__')?.value).toEqual({ constructor: 'x' });
  });

  it('reads sets as arrays and binary as base64, from the client (bytes) and from an export (text)', () => {
    expect(
      unmarshallItem(
        {
          ss: { SS: ['a', 'b'] },
          ns: { NS: ['1', '2.5'] },
          bytes: { B: Uint8Array.from([104, 105]) },
          text: { B: 'aGk=' } as unknown as { B: Uint8Array },
          bs: { BS: [Uint8Array.from([104, 105])] },
        },
        'throw',
      ),
    ).toEqual({ ss: ['a', 'b'], ns: [1, 2.5], bytes: 'aGk=', text: 'aGk=', bs: ['aGk='] });
  });

  it('refuses a value of no DynamoDB type at any depth, naming what it holds, when told to throw', () => {
    expect(() => unmarshallItem({ pk: { S: 'p' }, bad: { X: 'y' } as never }, 'throw')).toThrow(
      new TypeError('an attribute of no DynamoDB type: {X}'),
    );
    expect(() => unmarshallItem({ l: { L: [{ $unknown: ['V', 1] } as never] } }, 'throw')).toThrow(
      new TypeError('an attribute of no DynamoDB type: {$unknown}'),
    );
  });

  it('reads a value of no DynamoDB type as null at any depth, when told to', () => {
    expect(unmarshallItem({ pk: { S: 'p' }, bad: {} as never, l: { L: [{ S: 'a' }, { $unknown: ['V', 1] } as never] } }, 'null')).toEqual({
      pk: 'p',
      bad: null,
      l: ['a', null],
    });
  });
});

describe('dedupeWrites', () => {
  it('keeps the last write of a key, with every owner', () => {
    const deduped = dedupeWrites([
      write('t', { pk: 'a', sk: '1', v: 1 }, 'm1'),
      write('t', { pk: 'a', sk: '1', v: 2 }, 'm2'),
      write('u', { pk: 'a', sk: '1' }, 'm3'),
    ]);

    expect(deduped.map((w) => [w.table, w.item.v, w.owners])).toEqual([
      ['t', 2, ['m1', 'm2']],
      ['u', undefined, ['m3']],
    ]);
  });
});

describe('translateAwsError', () => {
  it('classifies throttling, faults and connection errors as transient, validation errors as refusals', () => {
    expect(translateAwsError({ name: 'ProvisionedThroughputExceededException' }, 'DynamoDB').kind).toBe('transient');
    expect(translateAwsError({ name: 'X', $metadata: { httpStatusCode: 503 } }, 'DynamoDB').kind).toBe('transient');
    expect(translateAwsError({ code: 'ECONNRESET' }, 'DynamoDB').kind).toBe('transient');
    expect(translateAwsError({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }, 'DynamoDB').kind).toBe('refused');
    // A connection that never answered, as the SDK hands it over after its retries (no status, no code).
    const unanswered = Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:1'), {
      $metadata: { attempts: 2 },
    });
    expect(translateAwsError(unanswered, 'DynamoDB').kind).toBe('transient');
    expect(translateAwsError({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }, 'DynamoDB').kind).toBe('configuration');
  });
});

describe('refusalReason', () => {
  // DynamoDB's own messages for items it refuses (ValidationException); DynamoDB Local words some differently.
  it.each([
    ['Item size has exceeded the maximum allowed size', "it is larger than DynamoDB's 400 KB item limit"],
    [
      'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes',
      'a key is longer than DynamoDB allows',
    ],
    [
      'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value.',
      'empty value',
    ],
    ['Nesting Levels have exceeded supported limits', 'nests deeper than DynamoDB allows'],
    ['Something DynamoDB has never said', 'refused the item as invalid (ValidationException)'],
  ])('names the refusal of "%s" in our words', (message, words) => {
    // Prepare
    const error = Object.assign(new Error(message), { name: 'ValidationException' });

    // Act
    const reason = refusalReason(error);

    // Assess
    expect(reason).toContain(words);
    expect(reason).not.toContain(message);
  });

  it('gives the generic reason for something thrown that is not an Error', () => {
    // Act
    const reason = refusalReason('Nesting Levels have exceeded supported limits');

    // Assess
    expect(reason).toBe('DynamoDB refused the item as invalid (ValidationException)');
  });
});
