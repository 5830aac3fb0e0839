// Heap of an event index holding N transactions: node --expose-gc gateway/scripts/heap.cjs [N]
// Uses the built package (npm run build -w gateway first). Prints numbers only.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { encodeEventBatch, orchestrator } = require('@substra-fabric/api');
const { EventIndex, FileEventStore } = require('../dist/src/index.js');

const n = Number(process.argv[2] ?? 20000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heap-'));
const mb = (b) => (b / 1024 / 1024).toFixed(1);
function usage() {
    global.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, buffers: m.arrayBuffers };
}
const task = (i) => ({
    key: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    function_key: '11111111-1111-4111-8111-111111111111',
    owner: 'Org1MSP',
    compute_plan_key: '22222222-2222-4222-8222-222222222222',
    worker: 'Org1MSP',
    rank: i,
    status: 3,
    metadata: { a: 'x'.repeat(200) },
    inputs: [
        { identifier: 'data', asset_key: 'k'.repeat(36) },
        { identifier: 'model', parent_task_output: { parent_task_key: 'p'.repeat(36), output_identifier: 'model' } },
    ],
    outputs: {
        model: {
            permissions: {
                process: { public: true, authorized_ids: ['Org1MSP', 'Org2MSP'] },
                download: { public: true, authorized_ids: ['Org1MSP', 'Org2MSP'] },
            },
        },
    },
});
const before = usage();
let first = new EventIndex(new FileEventStore(dir));
for (let i = 0; i < n; i++) {
    const tx = `${i.toString(16).padStart(64, '0')}`;
    const events = [0, 1].map((j) => ({
        id: `${tx}:${j}`,
        asset_key: task(i).key,
        asset_kind: 7,
        event_kind: 2,
        timestamp: { seconds: 1_700_000_000 + i, nanos: j },
        compute_task: task(i),
        metadata: { status: 'STATUS_DONE' },
    }));
    first.append({ blockNumber: BigInt(i + 1), transactionId: tx, payload: encodeEventBatch(events) });
}
const filled = usage();
first.close();
first = undefined;
const reloadedIndex = new EventIndex(new FileEventStore(dir));
const reloaded = usage();
const size = fs.statSync(path.join(dir, 'index.bin')).size;
console.log(`transactions=${n} events=${reloadedIndex.length} index.bin=${mb(size)}MB`);
console.log(
    `after appends: heap +${mb(filled.heap - before.heap)}MB buffers +${mb(filled.buffers - before.buffers)}MB`,
);
console.log(
    `after reload : heap +${mb(reloaded.heap - before.heap)}MB buffers +${mb(reloaded.buffers - before.buffers)}MB`,
);
reloadedIndex.close();
fs.rmSync(dir, { recursive: true, force: true });
void orchestrator;
