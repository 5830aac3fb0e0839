// Types for the fabric-shim 2.5.8 module that turns contract classes into a chaincode (the one its
// `fabric-chaincode-node server` command uses). It is not part of fabric-shim's typed API.
declare module 'fabric-shim/lib/contract-spi/chaincodefromcontract' {
    import type { ChaincodeInterface, ChaincodeResponse, ChaincodeStub } from 'fabric-shim';

    class ChaincodeFromContract implements ChaincodeInterface {
        constructor(
            contractClasses: (new () => object)[],
            serializers: { transaction: string; serializers: Record<string, unknown> },
            metadata?: object,
            title?: string,
            version?: string,
        );
        Init(stub: ChaincodeStub): Promise<ChaincodeResponse>;
        Invoke(stub: ChaincodeStub): Promise<ChaincodeResponse>;
    }
    export = ChaincodeFromContract;
}

// fabric-shim's logger module: the loggers behind the contract API's `ctx.logging`.
declare module 'fabric-shim/lib/logger' {
    /** Sets the level of every logger, existing and future (Fabric level names: DEBUG, INFO, WARNING, ERROR). */
    export function setLevel(level: string): void;
}
