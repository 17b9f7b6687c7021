import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  Mfa,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export interface ChatUserPoolProps {
  /** Keep the pool (its users) when the stack is deleted: every stage but dev. */
  retain: boolean;
  /** The token group whose members moderate (CONTRACT §9); created empty in the pool. */
  moderatorGroup: string;
  /** `-c cognitoDomain=<prefix>`: a hosted sign-in page at <prefix>.auth.<region>.amazoncognito.com. */
  hostedDomainPrefix?: string | undefined;
  /** `-c cognitoCallbackUrls=…`: where the hosted sign-in returns (the app's redirect URIs). */
  callbackUrls?: readonly string[];
}

/**
 * `-c auth=cognito`: the identity provider in the stack, for a first deploy
 * without one of your own. A user pool (sign-in by email, `name` for display
 * names) and a public app client (no secret: a mobile app cannot keep one).
 * The app sends the **ID token**: its `aud` is the client id, which both
 * authorizers check (the HTTP API's would also take an access token's
 * `client_id`; the WebSocket authorizer reads `aud` only).
 */
export class ChatUserPool extends Construct {
  readonly pool: UserPool;
  readonly client: UserPoolClient;
  /** The tokens' `iss`: https://cognito-idp.<region>.amazonaws.com/<pool id>. */
  readonly issuer: string;
  /** The tokens' `aud`: the app client's id. */
  readonly audience: string;

  constructor(scope: Construct, id: string, props: ChatUserPoolProps) {
    super(scope, id);
    this.pool = new UserPool(this, 'Users', {
      // Users are created by the operator (or an admin flow) until the app has its own sign-up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      standardAttributes: { fullname: { required: false, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const hosted = props.hostedDomainPrefix !== undefined;
    this.client = this.pool.addClient('App', {
      generateSecret: false,
      // SRP for apps (Amplify's default); USER_PASSWORD_AUTH for the deploy guide's CLI sign-in.
      authFlows: { userSrp: true, userPassword: true },
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      preventUserExistenceErrors: true,
      ...(hosted
        ? {
            oAuth: {
              flows: { authorizationCodeGrant: true },
              callbackUrls: [...(props.callbackUrls ?? [])],
            },
          }
        : { oAuth: { flows: { authorizationCodeGrant: false, implicitCodeGrant: false } } }),
    });
    if (hosted)
      this.pool.addDomain('Hosted', { cognitoDomain: { domainPrefix: props.hostedDomainPrefix! } });
    new CfnUserPoolGroup(this, 'Moderators', {
      userPoolId: this.pool.userPoolId,
      groupName: props.moderatorGroup,
      description: 'Moderators (CONTRACT §9): their ID tokens carry this group in cognito:groups',
    });
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.pool.userPoolId}`;
    this.audience = this.client.userPoolClientId;
    new CfnOutput(Stack.of(this), 'UserPoolId', { value: this.pool.userPoolId });
    new CfnOutput(Stack.of(this), 'UserPoolClientId', { value: this.client.userPoolClientId });
    const ack = (findingId: string, reason: string) =>
      Validations.of(this).acknowledge({ id: findingId, reason });
    ack(
      'AwsSolutions-COG2',
      'MFA is optional (TOTP), not required: a chat app signs people in on their phone; requiring a second factor is a product decision left to the deployer.',
    );
    ack(
      'AwsSolutions-COG8',
      'The Plus feature plan (threat protection) is billed per monthly active user; a first deploy uses Essentials, and production turns Plus on in the console or brings its own identity provider.',
    );
  }
}
