import type { Caller } from '#platform/auth.ts';
import { forbidden } from '#platform/errors.ts';
import { nowIso } from '#platform/time.ts';
import { getSettingsOf, getUserSettings, updateUserSettings } from '#store/settings.ts';
import { DEFAULT_USER_SETTINGS, type StoredUserSettings, type UserSettings } from './model.ts';
import type { UpdateSettingsInput } from './schemas.ts';
import { userList } from './user-list.ts';

/** Every setting, stored or default: what the settings routes answer. */
const withDefaults = (stored: StoredUserSettings): UserSettings => ({
  ...DEFAULT_USER_SETTINGS,
  ...stored,
});

/** GET /api/chat/me/settings: one consistent GetItem. */
export async function getMySettings(caller: Caller): Promise<UserSettings> {
  return withDefaults(await getUserSettings(caller.userId));
}

/** PUT /api/chat/me/settings: one UpdateItem that sets what the body names and answers the rest. */
export async function updateMySettings(
  caller: Caller,
  input: UpdateSettingsInput,
): Promise<UserSettings> {
  return withDefaults(await updateUserSettings(caller.userId, input, nowIso()));
}

/**
 * Consent to groups (CONTRACT §9): 403 FORBIDDEN naming every user in
 * `targets` whose `who_can_add_me` is "nobody". One BatchGet of their settings
 * items (at most 99 targets: one call). The caller is never a target: a user
 * creating their own group is not being added to it.
 */
export async function requireConsentToBeAdded(targets: readonly string[]): Promise<void> {
  const settings = await getSettingsOf(targets);
  const refusing = targets.filter(
    (u) => withDefaults(settings.get(u) ?? {}).who_can_add_me === 'nobody',
  );
  if (refusing.length > 0) {
    throw forbidden(`${userList(refusing)} cannot be added to groups by others`);
  }
}
