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
    listPorts,
    DEFAULT_CHANNELS,
} from './network';
export { portTaken, tcpOpen } from './util';
export type {
    FabricNetwork,
    NetworkOptions,
    NetworkOrg,
    NetworkPorts,
    ChannelSpec,
    ChaincodeProcessInfo,
    EndorsementPolicy,
} from './network';
export type { ChaincodeLifecycle, CcaasPackage, ChaincodeDefinition, ChaincodeServer } from './lifecycle';
export { upgradeChaincodes } from './upgrade';
export type { ChaincodeUpgrade, UpgradeOptions } from './upgrade';
export type { SupervisedProcess } from './supervisor';
export { writeGatewayFiles, gatewayEnv, startGatewayProcess, defaultGatewayMain } from './gatewayfiles';
export type { GatewayFiles, GatewayEnvOptions, GatewayProcess, GatewayProcessOptions } from './gatewayfiles';
export { isAlive, pidRecord, readPidRecords, writePidRecords, processStartTime } from './pids';
export type { PidRecord } from './pids';
export { committedTransaction, connectOrgGateway, parseTransaction } from './ledger';
export type { CommittedTransaction } from './ledger';
