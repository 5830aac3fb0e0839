/**
 * Transaction serializer registered with the contract API (see `serializers` in src/index.ts).
 *
 * The contract API's default JSON serializer turns the argument into a UTF-8 string and a returned Buffer into
 * `{"type":"Buffer","data":[...]}`: both would destroy binary protobuf. This one hands our functions the raw
 * argument bytes and returns their result bytes unchanged. Anything else (the system contract's GetMetadata
 * result) is written as JSON text. (The default serializer cannot be delegated to: with the class-transformer
 * 0.4.1 that npm resolves for fabric-contract-api 2.5.8, its object path fails with "classToPlain is not a
 * function".)
 */
export class ProtobufSerializer {
    toBuffer(result: unknown): Buffer | undefined {
        if (result === undefined || result === null) {
            return undefined;
        }
        if (result instanceof Uint8Array) {
            return Buffer.from(result.buffer, result.byteOffset, result.byteLength);
        }
        if (typeof result === 'string') {
            return Buffer.from(result);
        }
        return Buffer.from(JSON.stringify(result));
    }

    /**
     * `value` is what the transaction function receives. The contract API validates `validateData` against
     * the inferred parameter schema (`type: string`), hence a descriptive string rather than the bytes.
     */
    fromBuffer(data: Buffer): { value: Buffer; validateData: string } {
        return { value: data, validateData: `<${data.length} bytes>` };
    }
}

/** The serializer configuration, in the shape fabric-shim's bootstrap and ChaincodeFromContract expect. */
export const serializers = {
    transaction: 'protobufSerializer',
    serializers: {
        protobufSerializer: ProtobufSerializer,
    },
};
