import { Logger } from '@aws-lambda-powertools/logger';

/** One logger per function, created at cold start. (The send metrics are in metrics.ts.) */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'chat' });
