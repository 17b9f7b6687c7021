import { sweep } from '#domain/presence.ts';

/** EventBridge, every minute: dead connections out, users past their grace period offline. */
export const handler = async () => sweep();
