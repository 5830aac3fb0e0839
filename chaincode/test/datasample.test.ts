import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import {
    CHECKSUM,
    E,
    K,
    KEY1,
    KEY2,
    KEY3,
    KEY4,
    KEY5,
    ORG1,
    ORG2,
    expectRejected,
    newDataManager,
    key,
    newOrgsLedger,
} from './support/fixtures';
import { complete } from './support/messages';

/** Managers: DM1 and DM2 owned by ORG1, DM3 by ORG2. Samples use S1..S4. */
const DM1 = KEY1;
const DM2 = KEY2;
const DM3 = KEY3;
const S1 = key(0xa0000000, 1);
const S2 = key(0xa0000000, 2);
const S3 = key(0xa0000000, 3);
const S4 = key(0xa0000000, 4);

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
    await ledger.invoke(ORG1, async (s) => {
        await s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(DM1)));
        await s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(DM2)));
    });
    await ledger.invoke(ORG2, (s) =>
        s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(DM3))),
    );
});

function sample(key: string, managers: string[] = [DM1], checksum = CHECKSUM): orchestrator.INewDataSample {
    return { key, data_manager_keys: managers, checksum };
}

async function registerSamples(owner: string, ...samples: orchestrator.INewDataSample[]) {
    return ledger.invoke(owner, (s) =>
        s.dataSamples.registerDataSamples(complete(orchestrator.RegisterDataSamplesParam, { samples })),
    );
}

async function getSample(key: string): Promise<orchestrator.DataSample> {
    return (await ledger.evaluate(ORG1, (s) => s.dataSamples.getDataSample(key))).result;
}

describe('RegisterDataSamples (behavior-assets §6.1)', () => {
    it('§6.1 rules 2.4, 3: builds samples in request order (keys kept as given, test_only false), stores and returns them', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.dataSamples.registerDataSamples(
                complete(orchestrator.RegisterDataSamplesParam, {
                    samples: [{ ...sample(S2, [DM2, DM1, DM2]), test_only: true }, sample(S1, [])],
                }),
            ),
        );
        expect(res.result.map((d) => d.key)).toEqual([S2, S1]);
        const first = res.result[0]!;
        expect(first.data_manager_keys).toEqual([DM2, DM1, DM2]);
        expect(first.owner).toBe(ORG1);
        expect(first.test_only).toBe(false);
        expect(first.checksum).toBe(CHECKSUM);
        expect(first.creation_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(res.result[1]!.data_manager_keys).toEqual([]);
        expect(orchestrator.DataSample.toObject(await getSample(S2))).toEqual(orchestrator.DataSample.toObject(first));
    });

    it('§6.1 rule 3 / §13.3: one DATA_SAMPLE CREATED event per sample, in request order', async () => {
        const res = await registerSamples(ORG1, sample(S3), sample(S1));
        expect(res.events.map((e) => [e.asset_kind, e.event_kind, e.asset_key])).toEqual([
            [K.ASSET_DATA_SAMPLE, E.EVENT_ASSET_CREATED, S3],
            [K.ASSET_DATA_SAMPLE, E.EVENT_ASSET_CREATED, S1],
        ]);
        expect(res.events[0]!.data_sample?.key).toBe(S3);
    });

    it('§6.1 rule 1: an empty samples list is accepted, returns nothing and emits nothing', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.dataSamples.registerDataSamples(complete(orchestrator.RegisterDataSamplesParam, { samples: [] })),
        );
        expect(res.result).toEqual([]);
        expect(res.events).toEqual([]);
        expect(res.writes).toEqual([]);
        const none = await ledger.invoke(ORG1, (s) =>
            s.dataSamples.registerDataSamples(complete(orchestrator.RegisterDataSamplesParam, {})),
        );
        expect(none.result).toEqual([]);
    });

    it('§6.1 rule 2.1: key required and uuid, data_manager_keys each uuid, checksum required 64 hex → InvalidAsset(OE0101)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, {
                        samples: [{ key: '', data_manager_keys: ['X'], checksum: '' }],
                    }),
                ),
            'OE0101: datasample is not valid: checksum: cannot be blank; data_manager_keys: (0: must be a valid UUID.); key: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample('S1', [DM1], 'abc')] }),
                ),
            'OE0101: datasample is not valid: checksum: the length must be exactly 64; key: must be a valid UUID.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1, [DM1], 'g'.repeat(64))] }),
                ),
            'checksum: must be a valid hexadecimal number',
        );
    });

    it('§6.1 rule 2: the first failing sample aborts the whole batch (all or nothing)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1), sample('bad')] }),
                ),
            'OE0101',
        );
        await expect(getSample(S1)).rejects.toThrow('OE0002');
    });

    it('§6.1 rule 2.2: an unknown manager → NotFound(OE0002) naming it', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1, [DM1, KEY4])] }),
                ),
            `OE0002: datamanager with key "${KEY4}" not found`,
        );
    });

    it('§6.1 rule 2.2: an empty manager key passes validation and fails with NotFound', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1, [''])] }),
                ),
            'OE0002: datamanager with key "" not found',
        );
    });

    it('§6.1 rule 2.2: a manager of another owner → PermissionDenied(OE0102)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1, [DM1, DM3])] }),
                ),
            `OE0102: requester does not own the datamanager "${DM3}"`,
        );
    });

    it('§6.1 rule 2.3: an existing sample key → Conflict(OE0006)', async () => {
        await registerSamples(ORG1, sample(S1));
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S2), sample(S1)] }),
                ),
            `OE0006: datasample with key "${S1}" already exists`,
        );
    });

    it('§6.1 / §15.3: the same key twice in one batch → Conflict(OE0006)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, { samples: [sample(S1), sample(S1)] }),
                ),
            `OE0006: datasample with key "${S1}" already exists`,
        );
    });
});

describe('UpdateDataSamples (behavior-assets §6.2)', () => {
    beforeEach(async () => {
        await registerSamples(ORG1, sample(S1, [DM1]), sample(S2, [DM1, DM2]));
        await registerSamples(ORG2, sample(S3, [DM3]));
    });

    it('§6.2 rule 3.3: appends the requested keys missing from the existing list, in request order', async () => {
        await ledger.invoke(ORG1, (s) =>
            s.dataSamples.updateDataSamples(
                complete(orchestrator.UpdateDataSamplesParam, { keys: [S1, S2], data_manager_keys: [DM2, DM1] }),
            ),
        );
        expect((await getSample(S1)).data_manager_keys).toEqual([DM1, DM2]);
        expect((await getSample(S2)).data_manager_keys).toEqual([DM1, DM2]);
    });

    it('§6.2 rule 3.3: a new key repeated in the request is appended as many times', async () => {
        await ledger.invoke(ORG1, (s) =>
            s.dataSamples.updateDataSamples(
                complete(orchestrator.UpdateDataSamplesParam, { keys: [S1], data_manager_keys: [DM2, DM2] }),
            ),
        );
        expect((await getSample(S1)).data_manager_keys).toEqual([DM1, DM2, DM2]);
    });

    it('§6.2 rule 3.4: one UPDATED event per listed key, even when nothing changes; a key listed twice is processed twice', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.dataSamples.updateDataSamples(
                complete(orchestrator.UpdateDataSamplesParam, { keys: [S2, S1, S1], data_manager_keys: [DM2] }),
            ),
        );
        expect(res.events.map((e) => [e.asset_kind, e.event_kind, e.asset_key])).toEqual([
            [K.ASSET_DATA_SAMPLE, E.EVENT_ASSET_UPDATED, S2],
            [K.ASSET_DATA_SAMPLE, E.EVENT_ASSET_UPDATED, S1],
            [K.ASSET_DATA_SAMPLE, E.EVENT_ASSET_UPDATED, S1],
        ]);
        expect(res.events[0]!.data_sample?.data_manager_keys).toEqual([DM1, DM2]);
        expect(res.events[2]!.data_sample?.data_manager_keys).toEqual([DM1, DM2]);
        expect(res.events[0]!.metadata).toEqual({});
    });

    it('§6.2 rule 1: keys required and each uuid; data_manager_keys each uuid and may be empty', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.updateDataSamples(
                    complete(orchestrator.UpdateDataSamplesParam, { keys: [], data_manager_keys: ['bad'] }),
                ),
            'OE0101: datasample is not valid: data_manager_keys: (0: must be a valid UUID.); keys: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.updateDataSamples(complete(orchestrator.UpdateDataSamplesParam, { keys: [S1, 'bad'] })),
            'OE0101: datasample is not valid: keys: (1: must be a valid UUID.).',
        );
        const res = await ledger.invoke(ORG1, (s) =>
            s.dataSamples.updateDataSamples(complete(orchestrator.UpdateDataSamplesParam, { keys: [S1] })),
        );
        expect(res.events).toHaveLength(1);
        expect((await getSample(S1)).data_manager_keys).toEqual([DM1]);
    });

    it('§6.2 rule 2: unknown manager → NotFound, foreign manager → PermissionDenied, before any sample', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.updateDataSamples(
                    complete(orchestrator.UpdateDataSamplesParam, { keys: [KEY5], data_manager_keys: [KEY4] }),
                ),
            `OE0002: datamanager with key "${KEY4}" not found`,
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.updateDataSamples(
                    complete(orchestrator.UpdateDataSamplesParam, { keys: [KEY5], data_manager_keys: [DM3] }),
                ),
            `OE0102: requester does not own the datamanager "${DM3}"`,
        );
    });

    it('§6.2 rule 3.1: unknown sample → NotFound(OE0002), whole batch aborted', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataSamples.updateDataSamples(
                    complete(orchestrator.UpdateDataSamplesParam, { keys: [S1, KEY5], data_manager_keys: [DM2] }),
                ),
            `OE0002: datasample with key "${KEY5}" not found`,
        );
        expect((await getSample(S1)).data_manager_keys).toEqual([DM1]);
    });

    it('§6.2 rule 3.2: a sample of another owner → PermissionDenied(OE0102)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.dataSamples.updateDataSamples(complete(orchestrator.UpdateDataSamplesParam, { keys: [S3] })),
            'OE0102: requester does not own the datasample',
        );
    });
});

describe('GetDataSample, QueryDataSamples (behavior-assets §6.3, §6.4, §1.8)', () => {
    beforeEach(async () => {
        await registerSamples(ORG1, sample(S3), sample(S2));
        await registerSamples(ORG1, sample(S1));
    });

    it('§6.3: unknown key → NotFound(OE0002)', async () => {
        await expect(getSample(S4)).rejects.toThrow(`OE0002: datasample with key "${S4}" not found`);
        await expect(getSample('')).rejects.toThrow('OE0002: datasample with key "" not found');
    });

    it('§6.4 / §1.8: all samples by creation date then key, paginated, "" after the last page', async () => {
        const first = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(complete(orchestrator.QueryDataSamplesParam, { page_size: 2 })),
            )
        ).result;
        expect(first.data_samples.map((d) => d.key)).toEqual([S2, S3]);
        const second = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(
                    complete(orchestrator.QueryDataSamplesParam, { page_size: 2, page_token: first.next_page_token }),
                ),
            )
        ).result;
        expect(second.data_samples.map((d) => d.key)).toEqual([S1]);
        expect(second.next_page_token).toBe('');
    });

    it('§6.4: filter.keys keeps only those samples, in the same order; unknown keys are ignored', async () => {
        const res = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(
                    complete(orchestrator.QueryDataSamplesParam, { filter: { keys: [S1, S4, S3, S1] }, page_size: 1 }),
                ),
            )
        ).result;
        expect(res.data_samples.map((d) => d.key)).toEqual([S3]);
        const next = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(
                    complete(orchestrator.QueryDataSamplesParam, {
                        filter: { keys: [S1, S4, S3, S1] },
                        page_size: 1,
                        page_token: res.next_page_token,
                    }),
                ),
            )
        ).result;
        expect(next.data_samples.map((d) => d.key)).toEqual([S1]);
        expect(next.next_page_token).toBe('');
        const unknown = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(
                    complete(orchestrator.QueryDataSamplesParam, { filter: { keys: [S4] } }),
                ),
            )
        ).result;
        expect(unknown.data_samples).toEqual([]);
    });

    it('§1.8: malformed page tokens are plain errors', async () => {
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(
                    complete(orchestrator.QueryDataSamplesParam, { filter: { keys: [S1] }, page_token: 'x' }),
                ),
            ),
        ).rejects.toThrow(/^invalid page token/);
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.dataSamples.queryDataSamples(complete(orchestrator.QueryDataSamplesParam, { page_token: 'x' })),
            ),
        ).rejects.toThrow(/^invalid page token/);
    });
});

describe('Read helpers for task registration (behavior-assets §6.5)', () => {
    beforeEach(async () => {
        await registerSamples(ORG1, sample(S1, [DM1, DM2]), sample(S2, [DM1]));
    });

    it('§6.5: samples sharing the manager pass; one not listing it → InvalidAsset(OE0101) "datasamples do not share a common manager"', async () => {
        await ledger.evaluate(ORG1, (s) => s.dataSamples.checkSameManager(DM1, [S1, S2]));
        await expect(ledger.evaluate(ORG1, (s) => s.dataSamples.checkSameManager(DM2, [S1, S2]))).rejects.toThrow(
            'OE0101: datasamples do not share a common manager',
        );
    });

    it('§6.5: a missing sample → NotFound(OE0002); getDataSamples keeps the given order', async () => {
        await expect(ledger.evaluate(ORG1, (s) => s.dataSamples.checkSameManager(DM1, [S1, S4]))).rejects.toThrow(
            `OE0002: datasample with key "${S4}" not found`,
        );
        const samples = (await ledger.evaluate(ORG1, (s) => s.dataSamples.getDataSamples([S2, S1]))).result;
        expect(samples.map((d) => d.key)).toEqual([S2, S1]);
    });
});

describe('GetDataset (behavior-assets §7)', () => {
    it('§7 rules 1-3: the manager and the keys of its samples, by sample creation date then key', async () => {
        await registerSamples(ORG1, sample(S3, [DM1]), sample(S2, [DM2, DM1]));
        await registerSamples(ORG1, sample(S1, [DM2]));
        await ledger.invoke(ORG1, (s) =>
            s.dataSamples.updateDataSamples(
                complete(orchestrator.UpdateDataSamplesParam, { keys: [S1], data_manager_keys: [DM1, DM1] }),
            ),
        );
        const dataset = (await ledger.evaluate(ORG2, (s) => s.datasets.getDataset(DM1))).result;
        expect(dataset.data_manager?.key).toBe(DM1);
        expect(dataset.data_sample_keys).toEqual([S2, S3, S1]);
        const other = (await ledger.evaluate(ORG2, (s) => s.datasets.getDataset(DM2))).result;
        expect(other.data_sample_keys).toEqual([S2, S1]);
    });

    it('§7 rule 2: a manager without samples gives an empty list', async () => {
        const dataset = (await ledger.evaluate(ORG1, (s) => s.datasets.getDataset(DM3))).result;
        expect(dataset.data_manager?.owner).toBe(ORG2);
        expect(dataset.data_sample_keys).toEqual([]);
    });

    it('§7 rule 1: unknown manager → NotFound(OE0002)', async () => {
        await expect(ledger.evaluate(ORG1, (s) => s.datasets.getDataset(KEY4))).rejects.toThrow(
            `OE0002: datamanager with key "${KEY4}" not found`,
        );
    });
});
