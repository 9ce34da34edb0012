/**
 * Public entry of `@tributary/runtime`: the plumbing every Tributary service shares — config
 * (flags > env > file > defaults), JSON logs, the metrics registry, the admin HTTP server
 * (/metrics, /healthz, /readyz), the gRPC server helper (interceptors, principals, error
 * mapping, metrics) and client helpers, retry with backoff, and graceful shutdown.
 */
export {
  ConfigError,
  HelpRequested,
  loadConfig,
  loadConfigOrExit,
  helpText,
  flagName,
  envName,
  ENV_PREFIX,
  CONFIG_FILE_ENV,
} from './config';
export type { LoadConfigOptions, ConfigExitIo } from './config';
export { createLogger, LOG_LEVELS, routeProcessWarnings } from './logger';
export type { Logger, LogLevel, LoggerOptions } from './logger';
export {
  createMetrics,
  getOrCreateCounter,
  getOrCreateGauge,
  getOrCreateHistogram,
  checkMetricName,
  DURATION_BUCKETS_SECONDS,
  SIZE_BUCKETS_BYTES,
} from './metrics';
export type { Metrics, MetricsOptions, CounterOptions, GaugeOptions, HistogramOptions } from './metrics';
export { startAdminServer } from './admin-server';
export type { AdminServer, AdminServerOptions, Readiness } from './admin-server';
export {
  GrpcStatusError,
  Status,
  ERROR_CODE_METADATA_KEY,
  RETRIABLE_METADATA_KEY,
  grpcStatusForErrorCode,
  toGrpcStatus,
  fromGrpcError,
} from './grpc-errors';
export type { GrpcStatusObject } from './grpc-errors';
export { createGrpcServer, ANONYMOUS, GRPC_SERVER_DEFAULTS } from './grpc-server';
export type {
  GrpcServer,
  GrpcServerOptions,
  Principal,
  Interceptor,
  InterceptorInfo,
  CallContext,
  ServerStream,
  UnaryHandler,
  ServerStreamingHandler,
  ClientStreamingHandler,
  BidiStreamingHandler,
  HandlerFor,
  ServiceHandlers,
  ServiceDefinitionLike,
  MethodDefinitionLike,
  RequestOf,
  ResponseOf,
} from './grpc-server';
export { unary, serverStream, bidi, createClient, secureChannel, clientChannelOptions, GRPC_CLIENT_DEFAULTS, CLIENT_ID_METADATA_KEY } from './grpc-client';
export type {
  BidiCall,
  CallOptions,
  ClientConstructor,
  CreateClientOptions,
  GrpcClientSettings,
  MethodsOfKind,
  ClientRequest,
  ClientResponse,
} from './grpc-client';
export { retry, backoffDelayMs, isRetriableError, abortableSleep, RETRY_DEFAULTS } from './retry';
export type { RetryOptions, RetryEvent } from './retry';
export { installShutdown } from './shutdown';
export type { Shutdown, ShutdownHook, ShutdownOptions } from './shutdown';

// Security (ARCHITECTURE.md §10): TLS, SCRAM authentication, session tokens, principals.
export { ANONYMOUS_PRINCIPAL, USER_PRINCIPAL_TYPE, userPrincipal, principalName, principalOf } from './security/principal';
export type { Principal as UserPrincipal } from './security/principal';
export {
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  SCRAM_MAX_ITERATIONS,
  SCRAM_DEFAULT_ITERATIONS,
  ScramClientExchange,
  ScramServerExchange,
  scramCredential,
  formatScramCredential,
  parseScramCredential,
  isScramMechanism,
  scramHash,
  saltedPassword,
  clientKey,
  serverKey,
  storedKey,
} from './security/scram';
export type { ScramMechanism, ScramCredential, ScramCredentialLookup } from './security/scram';
export { DEFAULT_TOKEN_LIFETIME_MS, TokenKeyRing, TokenRevocations, issueToken, verifyToken, newTokenKey } from './security/token';
export type { TokenClaims, TokenKey } from './security/token';
export {
  USERS_PATH,
  TOKEN_KEY_PATH,
  REVOKED_TOKENS_PATH,
  userConfigPath,
  sanitizeUserName,
  desanitizeUserName,
  setScramCredential,
  putScramCredential,
  deleteScramCredential,
  getScramCredential,
  listScramUsers,
} from './security/store';
export type { SecurityStore } from './security/store';
export { applyBootstrapCredentials, formatBootstrapCredential, parseBootstrapCredentials } from './security/bootstrap';
export type { BootstrapCredential } from './security/bootstrap';
export {
  createAuthenticator,
  rotateTokenKey,
  bearerToken,
  AUTHORIZATION_METADATA_KEY,
  SCRAM_EXCHANGE_TIMEOUT_MS,
} from './security/authenticator';
export type { Authenticator, AuthenticatorOptions } from './security/authenticator';
export {
  ReloadingServerTls,
  validateServerTls,
  clientCredentials,
  clientTlsChannelOptions,
  principalFromCertificate,
  DEFAULT_TLS_RELOAD_INTERVAL_MS,
} from './security/tls';
export type { ServerTlsOptions, ClientTlsOptions } from './security/tls';
export { scramLogin } from './security/login';
export type { LoginResult } from './security/login';
export { securityConfigShape, securityFromConfig, serverTlsFromConfig, serviceClientSecurity, startServiceSecurity } from './security/config';
export type { SecurityConfig, ServiceSecurity, ServiceClientOptions, ServiceClientSecurity, StartedServiceSecurity } from './security/config';
export { TokenSession, REAUTHENTICATE_AT_LIFETIME_FRACTION } from './security/session';
export type { SessionCredentials, TokenSessionOptions } from './security/session';

// Authorization: Kafka's ACL model, its store and cache in coordination, the authorizer.
export {
  ACL_OPERATIONS,
  RESOURCE_TYPES,
  PATTERN_TYPES,
  PERMISSION_TYPES,
  WILDCARD_PRINCIPAL,
  WILDCARD_HOST,
  WILDCARD_RESOURCE,
  CLUSTER_RESOURCE_NAME,
  ACLS_ROOT,
  ACL_CHANGES_PATH,
  InvalidAclError,
  impliedBy,
  entryMatches,
  patternApplies,
  decide,
  filterMatches,
  validateBinding,
  validatePrincipal,
  escapeName,
  unescapeName,
  resourcePath,
  patternSortKey,
} from './security/acl';
export type {
  AclOperation,
  ResourceType,
  PatternType,
  PatternTypeFilter,
  PermissionType,
  ResourcePattern,
  AclEntry,
  AclBinding,
  AclBindingFilter,
  Principal as AclPrincipal,
} from './security/acl';
export { AclStore, AclCache, CHANGE_EXPIRATION_MS } from './security/acl-store';
export type { AclStoreClient, AclCacheOptions, CreateAclResult } from './security/acl-store';
export { Authorizer, hostOfPeer, parseSuperUsers } from './security/authorizer';
export type { AuthorizerOptions, AclSource } from './security/authorizer';
export {
  TRIBUTARY_AUTHORIZATION_TABLE,
  authorizationInterceptor,
  authorizationError,
  authorizationErrorCode,
  authorize,
  callAuthorization,
  defaultIsServicePrincipal,
  filterAllowed,
  requestField,
  requireAuthorized,
  requireServicePrincipal,
  ruleFor,
  startServiceAuthorizer,
} from './security/enforce';
export type {
  AuthorizationContext,
  AuthorizationInterceptorOptions,
  AuthorizationRule,
  AuthorizationTable,
  CallAuthorization,
  PerResourceCheck,
  ServiceAuthorizer,
} from './security/enforce';
export { splitAuthorized, mergeAuthorized, refusalsOf } from './security/per-resource';
export type { AuthorizedSplit, Refusal } from './security/per-resource';
export { bindingToWire, bindingFromWire, filterToWire, filterFromWire } from './security/acl-wire';
export * from './quotas';
export { connectService } from './security/service';
export type { ConnectedService } from './security/service';
export { BROKER_NODE_FLAGS } from './node-flags';
