import ChaincodeFromContract from 'fabric-shim/lib/contract-spi/chaincodefromcontract';
import type { ChaincodeInterface } from 'fabric-shim';
import { contracts } from './contracts';
import type { ContractClass } from './contracts/contract';
import { serializers } from './contracts/serializer';
import { CHAINCODE_VERSION } from './version';

export const CHAINCODE_TITLE = '@substra-fabric/chaincode';

/**
 * The chaincode as fabric-shim runs it: the contract API's dispatcher over our contracts, with our binary
 * serializer, and metadata introspected from the contract classes (served by org.hyperledger.fabric:GetMetadata).
 */
export function createChaincode(contractClasses: readonly ContractClass[] = contracts): ChaincodeInterface {
    // ChaincodeFromContract appends its system contract to the array it is given: pass a copy.
    return new ChaincodeFromContract([...contractClasses], serializers, {}, CHAINCODE_TITLE, CHAINCODE_VERSION);
}
