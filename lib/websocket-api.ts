import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  CfnIntegration,
  CfnIntegrationResponse,
  CfnRoute,
  CfnRouteResponse,
  type CfnStage,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type WsGatewayReply, wsConnectIdentitySource } from '#functions/routes.ts';
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

  /** `retainLogs`: keep the access-log group when the stack is deleted (every stage but dev). */
  constructor(scope: Construct, id: string, props: { stageName: string; retainLogs: boolean }) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', { routeSelectionExpression: '$request.body.action' });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: WS_THROTTLE.default,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
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

  /**
   * A route API Gateway answers itself: a MOCK integration whose response
   * template builds the frame, and a two-way route response. No function runs.
   */
  addGatewayReply(reply: WsGatewayReply) {
    const id = reply.routeKey.replace(/[^A-Za-z0-9]/g, '');
    const integration = new CfnIntegration(this, `${id}Mock`, {
      apiId: this.api.apiId,
      integrationType: 'MOCK',
      templateSelectionExpression: '\\$default',
      requestTemplates: { $default: '{"statusCode": 200}' },
    });
    new CfnIntegrationResponse(this, `${id}MockResponse`, {
      apiId: this.api.apiId,
      integrationId: integration.ref,
      integrationResponseKey: '$default',
      templateSelectionExpression: '\\$default',
      responseTemplates: { $default: replyTemplate(reply.event) },
    });
    const route = new CfnRoute(this, `${id}Route`, {
      apiId: this.api.apiId,
      routeKey: reply.routeKey,
      target: `integrations/${integration.ref}`,
      routeResponseSelectionExpression: '$default',
    });
    new CfnRouteResponse(this, `${id}RouteResponse`, {
      apiId: this.api.apiId,
      routeId: route.ref,
      routeResponseKey: '$default',
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

/**
 * The reply frame in VTL: `{"event": …, "data": {"server_time": ISO-8601 UTC
 * with milliseconds}}`, computed from $context.requestTimeEpoch (milliseconds)
 * with integer arithmetic (Howard Hinnant's days-to-civil algorithm), because
 * API Gateway's templates have no date formatting. The local gateway sends the
 * same frame (functions/routes.ts gatewayReplyFrame).
 */
export function replyTemplate(event: string): string {
  return [
    '#set($ms = $context.requestTimeEpoch)',
    '#set($secs = $ms / 1000)',
    '#set($milli = $ms % 1000)',
    '#set($sod = $secs % 86400)',
    '#set($hh = $sod / 3600)',
    '#set($mi = ($sod % 3600) / 60)',
    '#set($ss = $sod % 60)',
    '#set($z = $secs / 86400 + 719468)',
    '#set($era = $z / 146097)',
    '#set($doe = $z - $era * 146097)',
    '#set($yoe = ($doe - $doe / 1460 + $doe / 36524 - $doe / 146096) / 365)',
    '#set($y = $yoe + $era * 400)',
    '#set($doy = $doe - (365 * $yoe + $yoe / 4 - $yoe / 100))',
    '#set($mp = (5 * $doy + 2) / 153)',
    '#set($d = $doy - (153 * $mp + 2) / 5 + 1)',
    '#if($mp < 10)#set($mo = $mp + 3)#else#set($mo = $mp - 9)#end',
    '#if($mo <= 2)#set($y = $y + 1)#end',
    `{"event":"${event}","data":{"server_time":"$y-#if($mo < 10)0#end$mo-#if($d < 10)0#end$d` +
      'T#if($hh < 10)0#end$hh:#if($mi < 10)0#end$mi:#if($ss < 10)0#end$ss' +
      '.#if($milli < 100)0#end#if($milli < 10)0#end${milli}Z"}}',
  ].join('\n');
}
