/**
 * `npm run bench [-- --quick] [-- --only chaincode|e2e] [-- --markdown]`
 * `npm run bench -- --block-cutting [--quick] [--markdown]`: BatchTimeout × MaxMessageCount, a fresh network each.
 *
 * Prints a table of numbers: throughput, p50/p95 latency, state reads/writes per operation, heap and RSS.
 * Part 2 starts a real Fabric network (test/network) on free ports in a temporary directory and stops it.
 * Part 3 starts a second network whose chaincodes need AND(org1, org2). The goals of the performance issue are
 * printed after the table, each with its target and verdict.
 * --quick: small sizes for CI smoke (< 3 minutes); default: the full sizes (< 10 minutes).
 */
import os from 'node:os';
import { runBlockCuttingBench } from './block-cutting';
import { runChaincodeBench } from './chaincode';
import { runAndPolicyBench, runEndToEndBench } from './e2e';
import { Goals, Report, formatTable, gcAvailable, memory } from './lib/stats';

interface Args {
    quick: boolean;
    only: 'all' | 'chaincode' | 'e2e';
    markdown: boolean;
    blockCutting: boolean;
}

function parseArgs(argv: readonly string[]): Args {
    const args: Args = { quick: false, only: 'all', markdown: false, blockCutting: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--quick') {
            args.quick = true;
        } else if (a === '--block-cutting') {
            args.blockCutting = true;
        } else if (a === '--markdown') {
            args.markdown = true;
        } else if (a === '--only' || a?.startsWith('--only=') === true) {
            const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
            if (value !== 'chaincode' && value !== 'e2e' && value !== 'all') {
                throw new Error(`--only chaincode|e2e|all, not ${String(value)}`);
            }
            args.only = value;
        } else {
            throw new Error(
                `unknown argument ${String(a)}\nusage: bench [--quick] [--only chaincode|e2e | --block-cutting] [--markdown]`,
            );
        }
    }
    return args;
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const t0 = Date.now();
    const cpus = os.cpus();
    const header = [
        `substra-fabric bench (${args.quick ? 'quick' : 'full'}) ${new Date().toISOString()}`,
        `node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average at start ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
        gcAvailable() ? '' : 'warning: run node with --expose-gc for meaningful heap numbers',
    ].filter((l) => l !== '');
    process.stderr.write(header.join('\n') + '\n');
    if (args.blockCutting) {
        process.stderr.write(
            'block cutting: BatchTimeout × MaxMessageCount, a fresh network each; RegisterPlan (ours) vs no-op PutState\n',
        );
        const out = await runBlockCuttingBench({ quick: args.quick, markdown: args.markdown });
        process.stdout.write(
            `\n${header.join('\n')}\n\n${out}\n\ntotal ${((Date.now() - t0) / 1000).toFixed(1)} s, load average at the end ${os
                .loadavg()
                .map((l) => l.toFixed(2))
                .join(' ')}\n`,
        );
        return;
    }
    const report = new Report();
    const goals = new Goals();
    if (args.only !== 'e2e') {
        process.stderr.write('part 1: chaincode service layer on the in-memory ledger\n');
        await runChaincodeBench(report, { quick: args.quick });
    }
    if (args.only !== 'chaincode') {
        process.stderr.write(
            'part 2: end to end (grpc client → gateway → Fabric peer → chaincode process; orderer, both peers commit)\n',
        );
        const e2e = await runEndToEndBench(report, goals, { quick: args.quick });
        header.push(e2e.description);
        process.stderr.write('part 3: RegisterTasks on a network whose chaincodes need AND(org1, org2)\n');
        await runAndPolicyBench(report, goals, { quick: args.quick });
    }
    const end = memory();
    process.stdout.write(`\n${header.join('\n')}\n\n${formatTable(report.rows, args.markdown)}\n`);
    if (goals.goals.length > 0) {
        process.stdout.write(
            `\nGoals (each measured in this run on the real network):\n${goals.format(args.markdown)}\n`,
        );
    }
    process.stdout.write(
        `\nbench process at the end: heap ${end.heapUsedMb.toFixed(1)} MB, RSS ${end.rssMb.toFixed(1)} MB; total ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
}

main().then(
    () => process.exit(0),
    (err: unknown) => {
        process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
    },
);
