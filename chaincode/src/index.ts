/**
 * Package entry point. `contracts` and `serializers` are what fabric-shim's bootstrap looks for in the main
 * module (so `fabric-chaincode-node server --module-path chaincode` works too); the `chaincode` executable
 * uses `startServer` from ./main.
 */
export { contracts } from './contracts';
export { serializers } from './contracts/serializer';
export { createChaincode } from './chaincode';
export { CHAINCODE_VERSION } from './version';
