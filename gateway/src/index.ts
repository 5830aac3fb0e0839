// Public surface of @substra-fabric/gateway.
export { loadConfig, parseChannelConfig, parseDuration, chaincodeFor } from './config';
export type { GatewayConfig, ChannelConfig, HealthConfig, PeerConfig, TlsConfig } from './config';
export { ERROR_CODE_ORDER, StatusError, statusForMessage, headerErrors } from './errors';
export { EventHub, CHAINCODE_EVENT_NAME } from './eventhub';
export { EventIndex, parseTransaction } from './eventindex';
export type { IndexedEvent, EventQuery, EventPage } from './eventindex';
export { FileEventStore, MemoryEventStore } from './eventstore';
export type { EventStore, Checkpoint, TransactionRecord } from './eventstore';
export { InvocationError, asInvocationError } from './fabric';
export type {
    FabricClient,
    FailureKind,
    InvokeRequest,
    ChaincodeEventsRequest,
    ChaincodeEventRecord,
    CloseableAsyncIterable,
    TransactionBlockRequest,
} from './fabric';
export { FabricGatewayClient, classifyFabricError, blockNumberOf } from './fabricgateway';
export { FABRIC_HEALTH_SERVICE, FabricHealth, channelHealthService } from './health';
export type { FabricHealthOptions, ProbeTarget, ServingStatus } from './health';
export { Invoker, toStatusError } from './invoker';
export { GatewayMetrics } from './metrics';
export { DEFAULT_RETRY_POLICY, backoffDelay, nextDelay } from './retry';
export type { RetryPolicy } from './retry';
export { GatewayServer, orchestratorServices } from './server';
export type { GatewayServerOptions, ServerConfig } from './server';
export { MspVerifier, serverCredentials } from './tls';
export { loadWallet, loadWalletDir } from './wallet';
export type { WalletIdentity } from './wallet';
export { newLogger } from './logger';
export { main, gatewayVersion } from './main';
