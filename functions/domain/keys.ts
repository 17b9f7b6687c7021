import type { Caller } from '#platform/auth.ts';
import { AppError, conflict, notFound, validationError } from '#platform/errors.ts';
import { nowIso, nowMs } from '#platform/time.ts';
import {
  getActiveKeyIds,
  getKey,
  listKeys,
  listVerifications,
  putVerification,
  uploadKey,
} from '#store/encryption-keys.ts';
import { getMembers, listAllMembers } from '#store/members.ts';
import { fanOut } from './delivery.ts';
import { events } from './events.ts';
import type { KeyRecord } from './model.ts';
import { acceptPublicKey, normalizeFingerprint } from './public-key.ts';
import { roomPeers } from './room-peers.ts';
import { recordRoomEvent } from './sync-log.ts';

export const MAX_KEY_DEVICES = 10;

/**
 * POST /encryption/keys (docs/openapi.json). The key is checked (public, SPKI,
 * an accepted algorithm) before anything is stored; a new key_id for a device
 * replaces its active key and keeps the old one as history. Users who share a
 * room with the owner hear `encryption-key-changed`.
 */
export async function uploadPublicKey(
  caller: Caller,
  input: {
    public_key: string;
    device_id: string;
    key_id: string;
    expires_at?: string | null | undefined;
  },
) {
  const accepted = acceptPublicKey(input.public_key);
  if (input.expires_at && Date.parse(input.expires_at) <= nowMs()) {
    throw validationError('expires_at must be in the future');
  }
  const existing = await getKey(caller.userId, input.device_id, input.key_id);
  if (existing) {
    // Uploading the same key again is harmless; reusing a key_id for another key is not.
    if (existing.fingerprint !== accepted.fingerprint)
      throw conflict('key_id is already used for another key');
    return uploadView(existing);
  }
  const activeIds = await getActiveKeyIds(caller.userId);
  // Own properties only: a device named `constructor` or `toString` is just a device.
  const previous = Object.hasOwn(activeIds, input.device_id)
    ? activeIds[input.device_id]
    : undefined;
  if (previous === undefined && Object.keys(activeIds).length >= MAX_KEY_DEVICES) {
    throw conflict(`At most ${MAX_KEY_DEVICES} devices can have keys`);
  }
  const key: KeyRecord = {
    user_id: caller.userId,
    device_id: input.device_id,
    key_id: input.key_id,
    public_key: accepted.pem,
    fingerprint: accepted.fingerprint,
    algorithm: accepted.algorithm,
    is_active: true,
    created_at: nowIso(),
    expires_at: input.expires_at ?? null,
  };
  const outcome = await uploadKey(key, previous, MAX_KEY_DEVICES);
  if (outcome === 'exists') throw conflict('key_id is already used');
  if (outcome === 'conflict')
    throw conflict('The device key changed meanwhile, or the device cap was reached; try again');
  const changed = events.encryptionKeyChanged({
    user_id: caller.userId,
    device_id: key.device_id,
    key_id: key.key_id,
    fingerprint: key.fingerprint,
  });
  const [peers, rooms] = await Promise.all([
    roomPeers(caller.userId),
    listAllMembers(caller.userId),
  ]);
  // Live to everyone who shares a room; into each of those rooms' logs for sync.
  await Promise.all([
    fanOut(peers, changed),
    ...rooms.map((m) => recordRoomEvent(m.room_id, changed, key.created_at)),
  ]);
  return uploadView(key);
}

const uploadView = (key: KeyRecord) => ({
  key_id: key.key_id,
  device_id: key.device_id,
  fingerprint: key.fingerprint,
  uploaded_at: key.created_at,
  expires_at: key.expires_at,
});

/**
 * Only the owner and users who share a room with them may read the owner's
 * keys; anyone else gets 404, so users cannot be enumerated.
 */
async function requireKeyAccess(caller: Caller, ownerId: string) {
  if (caller.userId === ownerId) return;
  const callerRooms = (await listAllMembers(caller.userId)).map((m) => m.room_id);
  const shared = await getMembers(ownerId, callerRooms);
  if (shared.size === 0) throw notFound('User');
}

const isLive = (key: KeyRecord, now: number) =>
  key.is_active && (key.expires_at === null || Date.parse(key.expires_at) > now);

/**
 * GET /encryption/keys/:user_id: every key the owner uploaded, with `is_active`
 * true for each device's current, unexpired key (the ones to encrypt to). Older
 * keys stay listed, inactive, so a client can still match the encryption_key_id
 * of an old message to a fingerprint. Each carries the caller's verification.
 */
export async function getPublicKeys(caller: Caller, ownerId: string) {
  await requireKeyAccess(caller, ownerId);
  const now = nowMs();
  const [keys, verifications] = await Promise.all([
    listKeys(ownerId),
    listVerifications(caller.userId, ownerId),
  ]);
  const verified = new Map(verifications.map((v) => [v.key_id, v]));
  return {
    user_id: ownerId,
    keys: keys.map((k) => ({
      key_id: k.key_id,
      device_id: k.device_id,
      public_key: k.public_key,
      fingerprint: k.fingerprint,
      algorithm: k.algorithm,
      created_at: k.created_at,
      expires_at: k.expires_at,
      is_active: isLive(k, now),
      // A verification holds the fingerprint it checked: after a rotation it no longer applies.
      is_verified: verified.get(k.key_id)?.fingerprint === k.fingerprint,
    })),
  };
}

/** POST /encryption/verify: records that the caller checked a live key's fingerprint. */
export async function verifyPublicKey(
  caller: Caller,
  input: { user_id: string; key_id: string; fingerprint: string },
) {
  await requireKeyAccess(caller, input.user_id);
  const key = (await listKeys(input.user_id)).find(
    (k) => k.key_id === input.key_id && isLive(k, nowMs()),
  );
  if (!key) throw new AppError('VALIDATION_ERROR', 'Unknown or inactive key');
  if (normalizeFingerprint(input.fingerprint) !== key.fingerprint) {
    throw new AppError('VALIDATION_ERROR', 'Fingerprint does not match the key');
  }
  const at = nowIso();
  await putVerification(caller.userId, input.user_id, key.key_id, key.fingerprint, at);
  return {
    user_id: input.user_id,
    key_id: key.key_id,
    device_id: key.device_id,
    fingerprint: key.fingerprint,
    verified_at: at,
  };
}
