import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { tableSchema } from '#store/table-schema.ts';

/** How the table is billed: `-c capacity=provisioned` for steady traffic (docs/benchmarks.md). */
export type Capacity = 'on-demand' | 'provisioned';

/**
 * Provisioned capacity's auto scaling: each of the table's and its indexes'
 * read and write capacities tracks this utilization between MIN and MAX units
 * (Application Auto Scaling's target tracking; it scales up within a minute or
 * two, so a burst above the provisioned rate meets DynamoDB's burst capacity
 * first, then throttling that the functions retry). The cost bench prices the
 * consumed units at this utilization.
 */
export const PROVISIONED = {
  targetUtilizationPercent: 70,
  minUnits: 5,
  maxUnits: 40_000,
} as const;

/** The single table, derived from the schema object the local cloud uses too. */
export class ChatTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: { retain: boolean; capacity?: Capacity }) {
    super(scope, id);
    const provisioned = props.capacity === 'provisioned';
    this.table = new Table(this, 'Table', {
      partitionKey: { name: tableSchema.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableSchema.sortKey, type: AttributeType.STRING },
      ...(provisioned
        ? {
            billingMode: BillingMode.PROVISIONED,
            readCapacity: PROVISIONED.minUnits,
            writeCapacity: PROVISIONED.minUnits,
          }
        : { billingMode: BillingMode.PAY_PER_REQUEST }),
      timeToLiveAttribute: tableSchema.ttlAttribute,
      stream: StreamViewType[tableSchema.streamView],
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of tableSchema.globalIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
        ...(provisioned
          ? { readCapacity: PROVISIONED.minUnits, writeCapacity: PROVISIONED.minUnits }
          : {}),
      });
    }
    if (provisioned) this.autoScale();
  }

  private autoScale() {
    const range = { minCapacity: PROVISIONED.minUnits, maxCapacity: PROVISIONED.maxUnits };
    const target = { targetUtilizationPercent: PROVISIONED.targetUtilizationPercent };
    this.table.autoScaleReadCapacity(range).scaleOnUtilization(target);
    this.table.autoScaleWriteCapacity(range).scaleOnUtilization(target);
    for (const index of tableSchema.globalIndexes) {
      this.table
        .autoScaleGlobalSecondaryIndexReadCapacity(index.name, range)
        .scaleOnUtilization(target);
      this.table
        .autoScaleGlobalSecondaryIndexWriteCapacity(index.name, range)
        .scaleOnUtilization(target);
    }
  }
}
