import { Stack } from 'aws-cdk-lib';
import { type CfnStage, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { wsConnectIdentitySource } from '#functions/routes.ts';
import type { Throttle } from './http-api.ts';

/**
 * Stage throttling per route key, account-wide (the per-user limits sit behind
 * it). `send-message` is tighter for the reason the HTTP send route is
 * (lib/http-api.ts); `$connect` is bounded because every connect runs the
 * authorizer and a presence write (functions/routes.ts, wsConnectIdentitySource),
 * which caps what a flood of strangers can cost.
 */
export const WS_THROTTLE: { default: Throttle; routes: Record<string, Throttle> } = {
  default: { rateLimit: 1000, burstLimit: 2000 },
  routes: {
    $connect: { rateLimit: 500, burstLimit: 1000 },
    'send-message': { rateLimit: 500, burstLimit: 1000 },
  },
};

/**
 * The WebSocket API: routes select on the frame's `action`; $connect sits
 * behind a REQUEST Lambda authorizer whose identity sources are chosen in
 * functions/routes.ts (wsConnectIdentitySource says why they are empty).
 */
export class ChatWebSocketApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage}: where functions post to connections. */
  readonly callbackUrl: string;
  private readonly routeSettings: Record<string, unknown> = {};

  constructor(scope: Construct, id: string, props: { stageName: string }) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', { routeSelectionExpression: '$request.body.action' });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: WS_THROTTLE.default,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    const cfnStage = this.stage.node.defaultChild as CfnStage;
    cfnStage.routeSettings = this.routeSettings;
    cfnStage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        routeKey: '$context.routeKey',
        status: '$context.status',
        connectionId: '$context.connectionId',
        integrationLatency: '$context.integrationLatency',
      }),
    };
    const { region, urlSuffix } = Stack.of(this);
    this.callbackUrl = `https://${this.api.apiId}.execute-api.${region}.${urlSuffix}/${props.stageName}`;
  }

  /** Adds a route; `$connect` gets the authorizer. */
  addRoute(routeKey: string, fn: IFunction, authorizer?: IFunction) {
    const route = this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${routeKey}Integration`, fn),
      ...(authorizer
        ? {
            authorizer: new WebSocketLambdaAuthorizer('ConnectAuthorizer', authorizer, {
              identitySource: [...wsConnectIdentitySource],
            }),
          }
        : {}),
    });
    const throttle = WS_THROTTLE.routes[routeKey];
    if (throttle) {
      this.routeSettings[routeKey] = {
        ThrottlingRateLimit: throttle.rateLimit,
        ThrottlingBurstLimit: throttle.burstLimit,
      };
      // A stage's route settings must name routes that already exist.
      this.stage.node.addDependency(route);
    }
  }

  /** ARN pattern of the @connections management API of this stage. */
  connectionsArn(): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${this.stage.stageName}/POST/@connections/*`,
    });
  }

  manageConnectionsArn(): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${this.stage.stageName}/*/@connections/*`,
    });
  }
}
