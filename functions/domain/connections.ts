import type { Caller } from '#platform/auth.ts';
import { addConnection, removeConnection } from '#store/connections.ts';
import { nowIso } from './rooms.ts';

export async function connectClient(caller: Caller, connectionId: string) {
  await addConnection(caller.userId, connectionId, nowIso());
}

export async function disconnectClient(caller: Caller, connectionId: string) {
  await removeConnection(caller.userId, connectionId);
}
