import { setOwn } from '../../../lib/shared/own-keys';

describe('setOwn', () => {
  it('adds a field named __proto__ as data and leaves the prototype alone', () => {
    const object: Record<string, unknown> = {};
    setOwn(object, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    expect(Object.keys(object)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(object, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(object)).toBe('{"__proto__":{"polluted":true}}');
  });

  it('sets every other name as an ordinary, enumerable, writable field, in order', () => {
    const object: Record<string, unknown> = {};
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'a']) setOwn(object, name, name.length);
    expect(Object.entries(object)).toEqual([
      ['constructor', 11],
      ['toString', 8],
      ['hasOwnProperty', 14],
      ['a', 1],
    ]);
    setOwn(object, 'a', 2);
    expect(object.a).toBe(2);
  });
});
