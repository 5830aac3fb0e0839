// Public entry point of @substra-fabric/api: the generated protobufjs code plus the helpers shared by
// the chaincode and the gateway.
export { orchestrator, google } from './generated';
export { encodeEventBatch, decodeEventBatch } from './event-batch';
export { PROTO_DIR, PROTO_FILES, protoPaths } from './files';
export type { ProtoFile } from './files';
export { RPCS, RPCS_BY_PATH, CONTRACTS, rpcByPath, rpcByContractFn } from './rpcs';
export type { Message, MessageName, RpcInfo, RpcTypes, ServiceName } from './rpcs';
