import { getMessagesByIds } from '#store/messages.ts';
import type { MessageRecord } from './model.ts';

/**
 * Replies quote their original at send time; whether the original has been
 * deleted for everyone since is joined in here, when replies are read (a page
 * of the list, a sync page), not written into every reply when the original is
 * deleted: a deletion then costs the same however many replies quote it, and
 * the join costs one BatchGet of the originals a page quotes that the page does
 * not itself hold. Live, the `message-deleted` event tells clients to flip the
 * quotes they show.
 */
export async function deletedOriginals(
  messages: readonly MessageRecord[],
): Promise<ReadonlySet<string>> {
  const onPage = new Map(messages.map((m) => [m.id, m]));
  const quoted = [...new Set(messages.flatMap((m) => (m.reply_to ? [m.reply_to.message_id] : [])))];
  if (quoted.length === 0) return new Set();
  const elsewhere = quoted.filter((id) => !onPage.has(id));
  const fetched = elsewhere.length > 0 ? await getMessagesByIds(elsewhere) : [];
  const found = new Map([...onPage, ...fetched.map((m) => [m.id, m] as const)]);
  // An original no longer stored (its room cleared or purged) shows as deleted too.
  return new Set(quoted.filter((id) => found.get(id)?.is_deleted ?? true));
}
