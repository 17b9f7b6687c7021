import { Stack } from 'aws-cdk-lib';
import { type CfnStage, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * The WebSocket API: routes select on the frame's `action`; $connect sits
 * behind a REQUEST Lambda authorizer. The token may come from the query string
 * or from Sec-WebSocket-Protocol, so the authorizer has no identity source (API
 * Gateway would otherwise refuse a connect that lacks the one it names).
 */
export class ChatWebSocketApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage}: where functions post to connections. */
  readonly callbackUrl: string;

  constructor(scope: Construct, id: string, props: { stageName: string }) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', { routeSelectionExpression: '$request.body.action' });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: { rateLimit: 1000, burstLimit: 2000 },
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    const cfnStage = this.stage.node.defaultChild as CfnStage;
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
    this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${routeKey}Integration`, fn),
      ...(authorizer
        ? {
            authorizer: new WebSocketLambdaAuthorizer('ConnectAuthorizer', authorizer, {
              identitySource: [],
            }),
          }
        : {}),
    });
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
