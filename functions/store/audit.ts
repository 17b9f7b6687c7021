import type { AuditEntry } from '#model';
import type { Key } from './batch.ts';
import { putIf } from './conditional.ts';
import { queryPageWhole } from './query.ts';

/**
 * The moderators' audit log (docs/table-design.md): pk AUDIT#<audit_id>, sk
 * AUDIT, one item per action, never changed. Listed newest first through the
 * GSI (gsi1pk `AUDIT`, gsi1sk `<at>#<audit_id>`): moderator actions are few
 * (people acting on reports), so one index partition holds them.
 */
const auditKey = (id: string): Key => ({ pk: `AUDIT#${id}`, sk: 'AUDIT' });
const AUDIT_LIST = 'AUDIT';

export async function putAuditEntry(entry: AuditEntry): Promise<void> {
  // An id is a fresh ULID: the condition only guards against overwriting history.
  await putIf({
    Item: {
      ...auditKey(entry.audit_id),
      entity: 'audit',
      ...entry,
      gsi1pk: AUDIT_LIST,
      gsi1sk: `${entry.at}#${entry.audit_id}`,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
}

/** One page of the log, newest first. */
export async function listAuditEntries(limit: number, start?: Record<string, unknown>) {
  const page = await queryPageWhole(
    {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': AUDIT_LIST },
      ScanIndexForward: false,
      Limit: limit,
    },
    start,
  );
  return { entries: page.items.map(auditFromItem), next: page.next };
}

function auditFromItem(item: Record<string, unknown>): AuditEntry {
  return {
    audit_id: item.audit_id as string,
    moderator_id: item.moderator_id as string,
    action: item.action as AuditEntry['action'],
    user_id: (item.user_id as string | null | undefined) ?? null,
    report_id: (item.report_id as string | null | undefined) ?? null,
    message_id: (item.message_id as string | null | undefined) ?? null,
    note: (item.note as string | null | undefined) ?? null,
    at: item.at as string,
  };
}
