export {
    ensureFabric,
    fabricVersion,
    cacheRoot,
    peerVersion,
    DEFAULT_FABRIC_VERSION,
    SUPPORTED_FABRIC_VERSIONS,
} from './fabric';
export type { FabricInstall, EnsureFabricOptions } from './fabric';
export {
    startFabricNetwork,
    findRepoRoot,
    endorsementPolicyString,
    takenFixedPorts,
    portTaken,
    listPorts,
    DEFAULT_CHANNELS,
    tcpOpen,
} from './network';
export type {
    FabricNetwork,
    NetworkOptions,
    NetworkOrg,
    NetworkPorts,
    ChannelSpec,
    ChaincodeProcessInfo,
    EndorsementPolicy,
    NetworkLifecycle,
} from './network';
export { upgradeChaincodes } from './upgrade';
export type { ChaincodeUpgrade, UpgradeOptions } from './upgrade';
export type { SupervisedProcess } from './supervisor';
export { writeGatewayFiles, gatewayEnv, startGatewayProcess, defaultGatewayMain } from './gatewayfiles';
export type { GatewayFiles, GatewayEnvOptions, GatewayProcess, GatewayProcessOptions } from './gatewayfiles';
export { isAlive, pidRecord, readPidRecords, writePidRecords, processStartTime } from './pids';
export type { PidRecord } from './pids';
export { committedTransaction, connectOrgGateway, parseTransaction } from './ledger';
export type { CommittedTransaction } from './ledger';
