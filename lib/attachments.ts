import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  HttpMethods,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  ATTACHMENT_KEY_PREFIX,
  ATTACHMENT_STATE_TAG,
  UNSENT,
  UNSENT_EXPIRY_DAYS,
} from '#platform/attachment-layout.ts';

export interface AttachmentStorageProps {
  /** Keep the buckets when the stack is deleted (every stage but dev). */
  retain: boolean;
  /** Origins a browser may upload from and download to (CORS); the HTTP API allows any. */
  allowedOrigins?: readonly string[];
}

/**
 * The private bucket of attachment files (CONTRACT §8, docs/attachments.md):
 * no public access, S3-managed encryption, TLS only, no versioning (a deleted
 * file is gone, not a noncurrent version), and lifecycle rules so nothing
 * stays that no message carries:
 * - uploads still tagged `unsent` a day after they were made expire (a slot
 *   never sent, or a send that failed after the upload);
 * - multipart uploads left incomplete are aborted after a day.
 * Files a message stopped carrying are deleted by the attachments queue's
 * consumer, at once. Server access logs go to a second bucket, kept 90 days.
 */
export class AttachmentStorage extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: AttachmentStorageProps) {
    super(scope, id);
    // S3 log delivery is granted by a bucket policy, not the legacy log-delivery ACL.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const removal = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // S3 log delivery writes as the bucket owner's service principal (no ACLs).
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: removal,
      autoDeleteObjects: false,
    });
    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'files/',
      cors: [
        {
          allowedOrigins: [...(props.allowedOrigins ?? ['*'])],
          allowedMethods: [HttpMethods.GET, HttpMethods.HEAD, HttpMethods.POST],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        {
          id: 'unsent-uploads',
          prefix: ATTACHMENT_KEY_PREFIX,
          tagFilters: { [ATTACHMENT_STATE_TAG]: UNSENT },
          expiration: Duration.days(UNSENT_EXPIRY_DAYS),
        },
        { id: 'incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: removal,
    });
  }
}
