import { RemovalPolicy } from 'aws-cdk-lib';
import {
  type CfnStage,
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  type HttpStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpRoute } from '#functions/routes.ts';

export interface Throttle {
  rateLimit: number;
  burstLimit: number;
}

/**
 * Stage throttling: account-wide ceilings in front of the per-user rate limits,
 * so a flood (or a bug in a client fleet) is refused by API Gateway before it
 * reaches a function. The send routes are tighter: each send is a multi-item
 * transaction plus fan-out posts that draw on the account's 10,000 requests/s
 * API Gateway quota (a room of 10 is about 10 posts), so 500 sends/s leaves half
 * of that quota to everything else; a forward writes up to 10 copies, so it gets
 * a tenth of that.
 */
export const HTTP_THROTTLE: { default: Throttle; routes: Record<string, Throttle> } = {
  default: { rateLimit: 1000, burstLimit: 2000 },
  routes: {
    'POST /api/chat/rooms/{room_id}/messages': { rateLimit: 500, burstLimit: 1000 },
    'POST /api/chat/messages/{message_id}/forward': { rateLimit: 50, burstLimit: 100 },
  },
};

export interface ChatHttpApiProps {
  /** `iss` the tokens must carry; the JWKS is read from its OpenID discovery document. */
  jwtIssuer: string;
  /** `aud` the tokens must carry (required outside the local stage: lib/deploy-context.ts). */
  jwtAudience: string;
  /** Origins a browser app may call from (`-c corsOrigins`); `*` allows any. */
  corsOrigins: readonly string[];
  /** Keep the access-log group when the stack is deleted (every stage but dev). */
  retainLogs: boolean;
}

/**
 * The HTTP API. API Gateway's own JWT authorizer (no Lambda, cached by API
 * Gateway) guards every route, so a request without a valid token never starts
 * a function; handlers read the verified claims from the request context.
 */
export class ChatHttpApi extends Construct {
  readonly api: HttpApi;
  private readonly stage: HttpStage;
  private readonly routeSettings: Record<string, unknown> = {};

  constructor(scope: Construct, id: string, props: ChatHttpApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      corsPreflight: {
        allowOrigins: [...props.corsOrigins],
        allowHeaders: ['authorization', 'content-type'],
        allowMethods: [
          CorsHttpMethod.GET,
          CorsHttpMethod.POST,
          CorsHttpMethod.PUT,
          CorsHttpMethod.DELETE,
        ],
      },
      defaultAuthorizer: new HttpJwtAuthorizer('Jwt', props.jwtIssuer, {
        jwtAudience: [props.jwtAudience],
        identitySource: ['$request.header.Authorization'],
      }),
    });
    this.stage = this.api.defaultStage as HttpStage;
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const stage = this.stage.node.defaultChild as CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latency: '$context.responseLatency',
        authorizerError: '$context.authorizer.error',
      }),
    };
    stage.defaultRouteSettings = {
      throttlingRateLimit: HTTP_THROTTLE.default.rateLimit,
      throttlingBurstLimit: HTTP_THROTTLE.default.burstLimit,
    };
    stage.routeSettings = this.routeSettings;
  }

  addRoute(route: HttpRoute, fn: IFunction) {
    const routeKey = `${route.method} ${route.path}`;
    const [added] = this.api.addRoutes({
      path: route.path,
      methods: [HttpMethod[route.method]],
      integration: new HttpLambdaIntegration(`${route.method}${route.path}`, fn),
    });
    const throttle = HTTP_THROTTLE.routes[routeKey];
    if (throttle && added) {
      this.routeSettings[routeKey] = {
        ThrottlingRateLimit: throttle.rateLimit,
        ThrottlingBurstLimit: throttle.burstLimit,
      };
      // A stage's route settings must name routes that already exist.
      this.stage.node.addDependency(added);
    }
  }
}
