import { afterEach, describe, expect, it, vi } from 'vitest';
import { limitOverrides, STAGE_LIMITS } from '#platform/limits.ts';

/**
 * The contract's limits are defaults a stage may change (CDK context `limits`,
 * CHAT_LIMITS in the functions' environment): parsed strictly, read at cold start.
 */
describe('stage limits', () => {
  afterEach(() => {
    delete process.env.CHAT_LIMITS;
    vi.resetModules();
  });

  it('accepts whole numbers within each limit, and nothing else', () => {
    expect(limitOverrides(undefined)).toEqual({});
    expect(limitOverrides('')).toEqual({});
    expect(limitOverrides('{"groupMembers":500,"forwardTargets":3}')).toEqual({
      groupMembers: 500,
      forwardTargets: 3,
    });
    // A group smaller than one request's default caps the request.
    expect(limitOverrides('{"groupMembers":50}')).toEqual({
      groupMembers: 50,
      membersPerRequest: 50,
    });
    for (const bad of [
      'not json',
      '[]',
      '{"groupMembers":0}',
      '{"groupMembers":"50"}',
      '{"seenIdsMax":101}',
      '{"bodyBytes":40000}',
      '{"syncWindowSeconds":60}',
      '{"constructor":1}',
      '{"groupMembers":10,"membersPerRequest":20}',
    ])
      expect(() => limitOverrides(bad), bad).toThrow();
    // A transaction holds 100 items: the room plus the new members, the source plus the copies.
    expect(STAGE_LIMITS.membersPerRequest).toBe(99);
    expect(STAGE_LIMITS.forwardTargets).toBe(99);
  });

  it('is what the request schemas check, read when a function starts', async () => {
    process.env.CHAT_LIMITS = '{"contentChars":5,"forwardTargets":2}';
    vi.resetModules();
    const { LIMITS } = await import('#platform/limits.ts');
    const { sendMessageBody, forwardBody } = await import('#domain/schemas.ts');
    expect(LIMITS.contentChars).toBe(5);
    expect(sendMessageBody.safeParse({ content: 'hello' }).success).toBe(true);
    expect(sendMessageBody.safeParse({ content: 'hello!' }).success).toBe(false);
    expect(forwardBody.safeParse({ target_room_ids: ['a', 'b'] }).success).toBe(true);
    expect(forwardBody.safeParse({ target_room_ids: ['a', 'b', 'c'] }).success).toBe(false);
  });

  it('fails a cold start on a malformed value rather than run with a limit nobody chose', async () => {
    process.env.CHAT_LIMITS = '{"groupMembers":-1}';
    vi.resetModules();
    await expect(import('#platform/limits.ts')).rejects.toThrow(/groupMembers/);
  });
});
