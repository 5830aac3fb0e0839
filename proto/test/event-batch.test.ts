import * as protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEventBatch, encodeEventBatch } from '../src/event-batch';
import { google, orchestrator } from '../src/generated';
import { loadReflectionRoot } from './load-protos';

const { AssetKind, EventKind, ComputeTaskStatus, FunctionStatus } = orchestrator;

const ts = (seconds: number, nanos = 0): google.protobuf.ITimestamp => ({ seconds, nanos });

// A few events of different kinds, covering oneof members, maps, enums, floats and timestamps.
function sampleEvents(): orchestrator.IEvent[] {
    return [
        {
            id: 'tx1:0',
            asset_key: 'MyOrg1MSP',
            asset_kind: AssetKind.ASSET_ORGANIZATION,
            event_kind: EventKind.EVENT_ASSET_CREATED,
            channel: 'mychannel',
            timestamp: ts(1764110000, 123456789),
            organization: { id: 'MyOrg1MSP', address: 'https://backend.org1', creation_date: ts(1764110000) },
        },
        {
            id: 'tx1:1',
            asset_key: '6c1a7b2e-0f43-4a8e-9a55-2f7c1b9d0e11',
            asset_kind: AssetKind.ASSET_FUNCTION,
            event_kind: EventKind.EVENT_ASSET_CREATED,
            timestamp: ts(1764110000),
            function: {
                key: '6c1a7b2e-0f43-4a8e-9a55-2f7c1b9d0e11',
                name: 'train',
                archive: { checksum: 'ab'.repeat(32), storage_address: 'https://host/archive' },
                permissions: {
                    process: { public: true, authorized_ids: [] },
                    download: { public: false, authorized_ids: ['MyOrg1MSP', 'MyOrg2MSP'] },
                },
                metadata: { framework: 'torch', '': 'empty key' },
                inputs: {
                    model: { kind: AssetKind.ASSET_MODEL, multiple: false, optional: true },
                    datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true },
                },
                outputs: { model: { kind: AssetKind.ASSET_MODEL } },
                status: FunctionStatus.FUNCTION_STATUS_WAITING,
            },
            metadata: { reason: 'test' },
        },
        {
            id: 'tx2:0',
            asset_key: 'c0ffee00-0000-4000-8000-000000000001',
            asset_kind: AssetKind.ASSET_COMPUTE_TASK,
            event_kind: EventKind.EVENT_ASSET_UPDATED,
            timestamp: ts(1764110060),
            compute_task: {
                key: 'c0ffee00-0000-4000-8000-000000000001',
                status: ComputeTaskStatus.STATUS_BUILDING,
                rank: 3,
                inputs: [
                    { identifier: 'opener', asset_key: 'dm-key' },
                    { identifier: 'model', parent_task_output: { parent_task_key: 'p', output_identifier: 'model' } },
                ],
                outputs: { model: { transient: true, permissions: {} } },
            },
        },
        {
            id: 'tx3:0',
            asset_key: 'task|metric',
            asset_kind: AssetKind.ASSET_PERFORMANCE,
            event_kind: EventKind.EVENT_ASSET_CREATED,
            performance: { compute_task_key: 'task', compute_task_output_identifier: 'metric', performance_value: 0.5 },
        },
        {
            id: 'tx4:0',
            asset_kind: AssetKind.ASSET_PROFILING_STEP,
            profiling_step: { duration: 4_000_000_000, asset_key: 'k', step: 'build' },
        },
    ];
}

const plain = (event: orchestrator.IEvent): Record<string, unknown> =>
    orchestrator.Event.toObject(orchestrator.Event.fromObject(event), { oneofs: true });

describe('event batch codec', () => {
    it('encodes an empty list as zero bytes and decodes it back', () => {
        const bytes = encodeEventBatch([]);
        expect(bytes).toHaveLength(0);
        expect(decodeEventBatch(bytes)).toEqual([]);
        expect(decodeEventBatch(new Uint8Array(0))).toEqual([]);
    });

    it('keeps an event whose fields are all defaults (one zero-length entry)', () => {
        const bytes = encodeEventBatch([{}]);
        expect(Array.from(bytes)).toEqual([0]);
        const events = decodeEventBatch(bytes);
        expect(events).toHaveLength(1);
        expect(events[0]!.id).toBe('');
        expect(events[0]!.asset).toBeUndefined();
    });

    it('round-trips several events in order', () => {
        const input = sampleEvents();
        const decoded = decodeEventBatch(encodeEventBatch(input));
        expect(decoded).toHaveLength(input.length);
        expect(decoded.every((e) => e instanceof orchestrator.Event)).toBe(true);
        expect(decoded.map((e) => plain(e))).toEqual(input.map(plain));
        expect(decoded.map((e) => e.asset)).toEqual([
            'organization',
            'function',
            'compute_task',
            'performance',
            'profiling_step',
        ]);
    });

    it('decodes values with the types the generated typings promise', () => {
        const [org, fn, task, perf, step] = decodeEventBatch(encodeEventBatch(sampleEvents()));
        expect(org!.timestamp?.seconds).toBe(1764110000);
        expect(typeof org!.timestamp?.seconds).toBe('number');
        expect(org!.timestamp?.nanos).toBe(123456789);
        expect(fn!.function?.inputs?.model?.optional).toBe(true);
        expect(fn!.function?.permissions?.download?.authorized_ids).toEqual(['MyOrg1MSP', 'MyOrg2MSP']);
        expect(fn!.function?.metadata).toEqual({ framework: 'torch', '': 'empty key' });
        expect(fn!.metadata).toEqual({ reason: 'test' });
        const inputs = task!.compute_task?.inputs ?? [];
        expect(inputs.map((i) => (i instanceof orchestrator.ComputeTaskInput ? i.ref : 'not a message'))).toEqual([
            'asset_key',
            'parent_task_output',
        ]);
        expect(task!.compute_task?.status).toBe(ComputeTaskStatus.STATUS_BUILDING);
        expect(perf!.performance?.performance_value).toBe(0.5);
        expect(step!.profiling_step?.duration).toBe(4_000_000_000);
    });

    it('writes each event as a varint length followed by the event bytes', () => {
        const input = sampleEvents();
        const bytes = encodeEventBatch(input);
        const parts = input.map((e) => orchestrator.Event.encode(e).finish());
        const expected: number[] = [];
        for (const part of parts) {
            expected.push(...protobuf.Writer.create().uint32(part.length).finish(), ...part);
        }
        expect(Array.from(bytes)).toEqual(expected);
    });

    it('rejects a truncated batch', () => {
        const bytes = encodeEventBatch(sampleEvents());
        expect(() => decodeEventBatch(bytes.subarray(0, bytes.length - 1))).toThrow();
        // A length prefix announcing more bytes than remain.
        expect(() => decodeEventBatch(Uint8Array.from([5, 10, 1]))).toThrow();
    });
});

describe('static code and reflection agree', () => {
    let root: protobuf.Root;

    beforeAll(() => {
        root = loadReflectionRoot();
    });

    it('encode events to the same bytes and read each other', () => {
        const Event = root.lookupType('orchestrator.Event');
        for (const event of sampleEvents()) {
            const staticBytes = orchestrator.Event.encode(event).finish();
            const reflectionBytes = Event.encode(Event.fromObject(event)).finish();
            expect(Array.from(reflectionBytes)).toEqual(Array.from(staticBytes));
            const viaReflection = Event.toObject(Event.decode(staticBytes), { oneofs: true });
            expect(viaReflection).toEqual(plain(event));
        }
        const batch = protobuf.Writer.create();
        for (const event of sampleEvents()) {
            Event.encodeDelimited(Event.fromObject(event), batch);
        }
        expect(decodeEventBatch(batch.finish()).map((e) => plain(e))).toEqual(sampleEvents().map(plain));
    });

    it('encode the pitfall fields identically', () => {
        const cases: [string, Record<string, unknown>][] = [
            ['QueryFunctionsResponse', { Functions: [{ key: 'a', name: 'n' }], next_page_token: 't' }],
            ['QueryPerformancesResponse', { Performances: [{ compute_task_key: 'k', performance_value: 1.25 }] }],
            ['NewPermissions', { public: true, authorized_ids: ['A', 'B'] }],
            ['QueryVersionResponse', { orchestrator: '1.0.0', chaincode: '0.1.0' }],
            ['NewModel', { key: 'm', compute_task_key: 't', compute_task_output_identifier: 'o', address: {} }],
        ];
        for (const [name, value] of cases) {
            const reflected = root.lookupType(`orchestrator.${name}`);
            const generated = (orchestrator as unknown as Record<string, typeof orchestrator.NewPermissions>)[name]!;
            const staticBytes = generated.encode(generated.fromObject(value)).finish();
            const reflectionBytes = reflected.encode(reflected.fromObject(value)).finish();
            expect(Array.from(staticBytes), name).toEqual(Array.from(reflectionBytes));
            expect(staticBytes.length, name).toBeGreaterThan(0);
        }
        // Field 2 of QueryVersionResponse is the chaincode version: tag 0x12 after "1.0.0".
        const version = orchestrator.QueryVersionResponse.encode({ orchestrator: '1.0.0', chaincode: 'x' }).finish();
        expect(Array.from(version)).toEqual([0x0a, 5, ...Buffer.from('1.0.0'), 0x12, 1, 0x78]);
    });
});
