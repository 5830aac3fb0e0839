import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '@substra-fabric/api';
import { PROTO_DIR, PROTO_FILES, protoPaths } from '../src/files';

describe('package entry point', () => {
    it('exports the generated namespaces and the helpers', () => {
        // (`default` is the CommonJS interop object added by the test runner's module loader.)
        expect(
            Object.keys(api)
                .filter((k) => k !== 'default')
                .sort(),
        ).toEqual(
            [
                'CONTRACTS',
                'PROTO_DIR',
                'PROTO_FILES',
                'RPCS',
                'RPCS_BY_PATH',
                'decodeEventBatch',
                'encodeEventBatch',
                'google',
                'orchestrator',
                'protoPaths',
                'rpcByContractFn',
                'rpcByPath',
            ].sort(),
        );
        expect(typeof api.orchestrator.Event.encode).toBe('function');
        expect(typeof api.google.protobuf.Timestamp.encode).toBe('function');
        expect(typeof api.google.protobuf.Empty.encode).toBe('function');
        expect(api.RPCS).toHaveLength(40);
    });

    it('decodes int64 as numbers through the package entry point', () => {
        const bytes = api.google.protobuf.Timestamp.encode({ seconds: 1764110000 }).finish();
        expect(api.google.protobuf.Timestamp.decode(bytes).seconds).toBe(1764110000);
    });

    it('points PROTO_DIR at exactly our .proto files', () => {
        expect(api.PROTO_DIR).toBe(PROTO_DIR);
        expect(path.isAbsolute(PROTO_DIR)).toBe(true);
        const onDisk = fs.readdirSync(PROTO_DIR).filter((f) => f.endsWith('.proto'));
        expect(onDisk.sort()).toEqual([...PROTO_FILES].sort());
        expect(PROTO_FILES).toHaveLength(14);
        expect(protoPaths().every((p) => fs.existsSync(p))).toBe(true);
    });
});
