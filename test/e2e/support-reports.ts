/** Reads a stored report straight from the local table (no moderator route is needed for it). */
export async function getReportForTest(reportId: string) {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient, GetCommand } = await import('@aws-sdk/lib-dynamodb');
  const { reportFromItem } = await import('#store/reports.ts');
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const out = await client.send(
    new GetCommand({
      TableName: process.env.TABLE_NAME!,
      Key: { pk: `REPORT#${reportId}`, sk: 'REPORT' },
      ConsistentRead: true,
    }),
  );
  return out.Item ? reportFromItem(out.Item) : undefined;
}
