import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type StoredUserSettings, WHO_CAN_ADD_ME, type WhoCanAddMe } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { batchGet, type Item, type Key } from './batch.ts';
import { userIdOfPk, userPk } from './keys.ts';

/**
 * A user's settings: pk USER#<user_id>, sk SETTINGS, one attribute per setting
 * the user has set (`who_can_add_me` today), and none for a setting never set,
 * which reads as absent (the domain gives it its default). A later setting is
 * a new attribute: no migration. The item stays tiny: a BatchGet reads it for
 * every user an add names at half a read unit each.
 */
const SETTINGS_SK = 'SETTINGS';
const settingsKey = (userId: string): Key => ({ pk: userPk(userId), sk: SETTINGS_SK });

const isWhoCanAddMe = (value: unknown): value is WhoCanAddMe =>
  (WHO_CAN_ADD_ME as readonly unknown[]).includes(value);

function fromItem(item: Item | undefined): StoredUserSettings {
  const settings: StoredUserSettings = {};
  if (isWhoCanAddMe(item?.who_can_add_me)) settings.who_can_add_me = item.who_can_add_me;
  return settings;
}

/** The caller's own settings, read after their own writes (consistent GetItem). */
export async function getUserSettings(userId: string): Promise<StoredUserSettings> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: settingsKey(userId), ConsistentRead: true }),
  );
  return fromItem(out.Item);
}

/**
 * The settings of many users in one BatchGet (100 keys a call; an add names at
 * most 99). Eventually consistent: a setting changed within the last second may
 * not be seen yet, as if the add had come a moment earlier. Users who never set
 * anything have no item and are absent from the map.
 */
export async function getSettingsOf(
  userIds: readonly string[],
): Promise<Map<string, StoredUserSettings>> {
  if (userIds.length === 0) return new Map();
  const items = await batchGet(userIds.map(settingsKey));
  return new Map(items.map((item) => [userIdOfPk(item.pk as string), fromItem(item)]));
}

/** Sets the given settings (others are left as they are) and answers all stored ones. */
export async function updateUserSettings(
  userId: string,
  changes: StoredUserSettings,
  at: string,
): Promise<StoredUserSettings> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':entity': 'user-settings', ':at': at };
  const sets = ['entity = :entity', 'updated_at = :at'];
  Object.entries(changes).forEach(([name, value], i) => {
    if (value === undefined) return;
    names[`#s${i}`] = name;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  });
  const out = await ddb().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: settingsKey(userId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }),
  );
  return fromItem(out.Attributes);
}
