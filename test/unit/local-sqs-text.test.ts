import { describe, expect, it } from 'vitest';
import { fromEmulator, toEmulator } from '#local/sqs-text.ts';

describe("the local SQS proxy's body codec (fauxqs refuses characters above U+FFFF)", () => {
  it('round-trips any body, encoding only what fauxqs would wrongly refuse', () => {
    for (const body of [
      '{"content":"plain"}',
      '{"content":"👍🏽🎉 你好世界 مرحبا بالعالم שלום"}',
      'local-sqs-text:looks encoded but is not',
      '',
    ]) {
      expect(fromEmulator(toEmulator(body))).toBe(body);
    }
    expect(toEmulator('{"content":"你好世界 שלום"}')).toBe('{"content":"你好世界 שלום"}');
    expect(toEmulator('👍')).toMatch(/^local-sqs-text:[A-Za-z0-9+/=]+$/);
  });

  it('leaves what real SQS refuses as it is, for fauxqs to refuse too', () => {
    for (const body of ['bell \u0007 👍', 'lone \ud800 half', '\ufffe 👍']) {
      expect(toEmulator(body)).toBe(body);
    }
  });
});
