// Public surface of @substra-fabric/gateway.
export {
    loadConfig,
    parseChannelConfig,
    parseDuration,
    chaincodeFor,
    endorsersFor,
    parseEndorsingOrganizations,
} from './ops/config';
export type {
    GatewayConfig,
    ChannelConfig,
    EndorsingOrganizations,
    HealthConfig,
    PeerConfig,
    TlsConfig,
} from './ops/config';
export {
    ERROR_CODE_ORDER,
    StatusError,
    statusForMessage,
    InvocationError,
    asInvocationError,
    classifyFabricError,
    toStatusError,
} from './errors';
export type { FailureKind } from './errors';
export { headerErrors } from './rpc/headers';
export { EventHub } from './events/hub';
export { EventIndex } from './events/eventindex';
export { CHAINCODE_EVENT_NAME, parseTransaction } from './events/payload';
export type { TransactionRecord } from './events/payload';
export type { IndexedEvent, Checkpoint } from './events/layout';
export type { EventQuery, EventPage } from './events/query';
export { FileEventStore, MemoryEventStore } from './events/store';
export type { EventStore } from './events/store';
export type {
    FabricClient,
    InvokeRequest,
    ChaincodeEventsRequest,
    ChaincodeEventRecord,
    CloseableAsyncIterable,
    TransactionBlockRequest,
} from './fabric/client';
export { FabricGatewayClient } from './fabric/gatewayclient';
export { blockNumberOf } from './fabric/blocks';
export { FABRIC_HEALTH_SERVICE, FabricHealth, channelHealthService } from './ops/health';
export type { FabricHealthOptions, ProbeTarget, ServingStatus } from './ops/health';
export { Invoker } from './rpc/invoker';
export { GatewayMetrics } from './ops/metrics';
export { DEFAULT_RETRY_POLICY, backoffDelay, nextDelay } from './fabric/retry';
export type { RetryPolicy } from './fabric/retry';
export { GatewayServer } from './rpc/server';
export { orchestratorServices } from './rpc/services';
export type { GatewayServerOptions, ServerConfig } from './rpc/server';
export { MspVerifier, serverCredentials } from './rpc/tls';
export { loadWallet, loadWalletDir } from './fabric/wallet';
export type { WalletIdentity } from './fabric/wallet';
export { newLogger } from './ops/logger';
export { main, gatewayVersion } from './main';
