export { startDevnet, defaultStateDir, defaultChaincodeExecutable, DEFAULT_CHANNELS } from './network';
export type { Devnet, DevnetOptions, DevnetOrg, DevnetChaincodeProcess, ChannelSpec } from './network';
export { ensureCrypto, DEFAULT_ORGS } from './crypto';
export type { NetworkCrypto, OrgCrypto, OrgSpec } from './crypto';
export type { EndorsementPolicy } from './ledger';
export { writeGatewayFiles, gatewayEnv, startGatewayProcess, defaultGatewayMain } from './gatewayfiles';
export type { GatewayFiles, GatewayEnvOptions, GatewayProcess, GatewayProcessOptions } from './gatewayfiles';
export { devnetPidFiles, isAlive, pidRecord, readPidRecords, writePidRecords } from './pids';
export type { PidRecord } from './pids';
