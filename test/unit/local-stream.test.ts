import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it, vi } from 'vitest';
import { decodeRecords } from '#local/stream-poller.ts';

const record = (seq: string, extra: Partial<NonNullable<_Record['dynamodb']>> = {}): _Record => ({
  eventID: `e${seq}`,
  eventName: 'INSERT',
  dynamodb: {
    SequenceNumber: seq,
    Keys: { pk: { S: 'USER#a' }, sk: { S: 'x' } },
    NewImage: { pk: { S: 'USER#a' }, sk: { S: 'x' }, secret: { S: 'not logged' } },
    ...extra,
  },
});

describe("the local stream reader's decoding", () => {
  it('passes over a record that throws, logging where it is but not what it holds, and keeps the rest', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const broken = record('2', {
      ApproximateCreationDateTime: {
        getTime: () => {
          throw new Error('undecodable');
        },
      } as unknown as Date,
    });
    const skipped: unknown[] = [];
    const out = decodeRecords([record('1'), broken, record('3')], 'arn:stream', (s) =>
      skipped.push(s),
    );
    expect(out.map((r) => r.dynamodb?.SequenceNumber)).toEqual(['1', '3']);
    expect(skipped).toEqual([
      { eventID: 'e2', sequenceNumber: '2', keys: ['pk', 'sk'], error: 'undecodable' },
    ]);
    expect(JSON.stringify(log.mock.calls)).not.toContain('not logged');
    log.mockRestore();
  });

  it('keeps prototype-named map keys as data and never reads inherited properties', () => {
    const image = JSON.parse(
      '{"pk":{"S":"a"},"m":{"M":{"constructor":{"M":{}},"toString":{"S":"t"},"__proto__":{"S":"p"}}},"e":{}}',
    );
    const [out] = decodeRecords([record('1', { NewImage: image })], 'arn:stream');
    const m = out?.dynamodb?.NewImage?.m?.M;
    expect(Object.keys(m ?? {}).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(m && Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(m?.constructor).toEqual({ M: {} });
    expect(out?.dynamodb?.NewImage?.e).toEqual({ M: {} });
  });
});
