import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ReportRecord, ReportResolution } from '#model';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';
import type { Item, Key } from './batch.ts';
import { putIf, updateIf } from './conditional.ts';
import { queryPageWhole } from './query.ts';

/**
 * Reports (docs/table-design.md): pk REPORT#<report_id>, sk REPORT, the
 * report with its evidence (a copy of the message as it was). Listed for
 * moderators through the GSI: gsi1pk `REPORTS#<status>`, gsi1sk
 * `<created_at>#<report_id>`, oldest first; resolving a report moves it to
 * `REPORTS#closed`. Reports are few (a `reports` rate limit per user), so one
 * partition per status holds them.
 */
const reportKey = (id: string): Key => ({ pk: `REPORT#${id}`, sk: 'REPORT' });
const statusPk = (status: ReportRecord['status']) => `REPORTS#${status}`;

export async function putReport(report: ReportRecord): Promise<void> {
  const put = await putIf({
    Item: {
      ...reportKey(report.report_id),
      entity: 'report',
      ...report,
      gsi1pk: statusPk(report.status),
      gsi1sk: `${report.created_at}#${report.report_id}`,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
  if (!put) throw new StoreError(`Report id ${report.report_id} is taken`);
}

export function reportFromItem(item: Item): ReportRecord {
  return {
    report_id: item.report_id as string,
    status: item.status === 'closed' ? 'closed' : 'open',
    reason: item.reason as ReportRecord['reason'],
    note: (item.note as string | null | undefined) ?? null,
    reporter_id: item.reporter_id as string,
    user_id: (item.user_id as string | null | undefined) ?? null,
    created_at: item.created_at as string,
    evidence: (item.evidence as ReportRecord['evidence'] | undefined) ?? null,
    ...(item.resolution ? { resolution: item.resolution as ReportResolution } : {}),
  };
}

export async function getReport(reportId: string): Promise<ReportRecord | undefined> {
  const out = await ddb().send(
    new GetCommand({ TableName: tableName(), Key: reportKey(reportId), ConsistentRead: true }),
  );
  return out.Item ? reportFromItem(out.Item) : undefined;
}

/**
 * Closes an open report with its resolution, moving it to the closed list.
 * False when it was not open (another moderator resolved it first): exactly one
 * resolution claims a report.
 */
export async function closeReport(
  reportId: string,
  resolution: ReportResolution,
): Promise<boolean> {
  const closed = await updateIf({
    Key: reportKey(reportId),
    UpdateExpression: 'SET #status = :closed, gsi1pk = :closedPk, resolution = :resolution',
    ConditionExpression: '#status = :open',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':closed': 'closed',
      ':open': 'open',
      ':closedPk': statusPk('closed'),
      ':resolution': resolution,
    },
  });
  return closed !== undefined;
}

/** Puts a report claimed by `resolution` back on the open list (its action failed). */
export async function reopenReport(reportId: string, resolution: ReportResolution): Promise<void> {
  await updateIf({
    Key: reportKey(reportId),
    UpdateExpression: 'SET #status = :open, gsi1pk = :openPk REMOVE resolution',
    ConditionExpression: 'resolution.resolved_at = :at AND resolution.moderator_id = :by',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':open': 'open',
      ':openPk': statusPk('open'),
      ':at': resolution.resolved_at,
      ':by': resolution.moderator_id,
    },
  });
}

/** One page of reports with this status, oldest first; `next` continues it. */
export async function listReports(
  status: ReportRecord['status'],
  limit: number,
  start?: Record<string, unknown>,
) {
  const page = await queryPageWhole(
    {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': statusPk(status) },
      Limit: limit,
    },
    start,
  );
  return { reports: page.items.map(reportFromItem), next: page.next };
}
