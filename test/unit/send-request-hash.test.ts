import { describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { canonicalJson, requestHash } = await import('#domain/send-store.ts');

/*
 * A send is idempotent by temp_id: the same request is confirmed again, another
 * one is 409. "The same" compares `media`, a client's JSON object, whose keys a
 * resend may serialize in another order (issue 21, item 7).
 */
const send = (media: unknown) => ({
  content: 'photo',
  message_type: 'image',
  is_encrypted: false,
  media,
});

describe('the request hash of a send', () => {
  it('is the same when media has its keys, nested ones too, in another order', () => {
    const first = { width: 640, height: 480, thumb: { url: 'https://t/1', size: 10 }, tags: ['a'] };
    const resent = {
      tags: ['a'],
      thumb: { size: 10, url: 'https://t/1' },
      height: 480,
      width: 640,
    };
    expect(requestHash('r_1', send(resent))).toBe(requestHash('r_1', send(first)));
  });

  it('differs when media differs in a value, in an array order, or in the room', () => {
    const base = requestHash('r_1', send({ a: 1, b: [1, 2] }));
    expect(requestHash('r_1', send({ a: 2, b: [1, 2] }))).not.toBe(base);
    expect(requestHash('r_1', send({ a: 1, b: [2, 1] }))).not.toBe(base);
    expect(requestHash('r_2', send({ a: 1, b: [1, 2] }))).not.toBe(base);
  });

  it('sorts keys recursively inside arrays and keeps a "__proto__" key a key', () => {
    expect(canonicalJson([{ b: 1, a: { d: 1, c: 2 } }])).toBe('[{"a":{"c":2,"d":1},"b":1}]');
    const parsed = JSON.parse('{"z":1,"__proto__":{"y":1,"x":2}}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":2,"y":1},"z":1}');
  });
});
