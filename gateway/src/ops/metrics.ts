import * as http from 'node:http';
import { status } from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Names of gRPC codes as go-grpc-prometheus writes them in the `grpc_code` label. */
const CODE_NAMES: Readonly<Record<number, string>> = {
    [status.OK]: 'OK',
    [status.CANCELLED]: 'Canceled',
    [status.UNKNOWN]: 'Unknown',
    [status.INVALID_ARGUMENT]: 'InvalidArgument',
    [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
    [status.NOT_FOUND]: 'NotFound',
    [status.ALREADY_EXISTS]: 'AlreadyExists',
    [status.PERMISSION_DENIED]: 'PermissionDenied',
    [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
    [status.FAILED_PRECONDITION]: 'FailedPrecondition',
    [status.ABORTED]: 'Aborted',
    [status.OUT_OF_RANGE]: 'OutOfRange',
    [status.UNIMPLEMENTED]: 'Unimplemented',
    [status.INTERNAL]: 'Internal',
    [status.UNAVAILABLE]: 'Unavailable',
    [status.DATA_LOSS]: 'DataLoss',
    [status.UNAUTHENTICATED]: 'Unauthenticated',
};

export function codeName(code: number): string {
    return CODE_NAMES[code] ?? `Code(${code})`;
}

/** Labels of one RPC, as go-grpc-prometheus sets them. */
export interface RpcLabels {
    readonly grpc_type: 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';
    readonly grpc_service: string;
    readonly grpc_method: string;
}

/** Split `/pkg.Service/Method` into service and method. */
export function rpcLabels(path: string, requestStream: boolean, responseStream: boolean): RpcLabels {
    const [, service = '', method = ''] = path.split('/');
    const grpcType = requestStream
        ? responseStream
            ? 'bidi_stream'
            : 'client_stream'
        : responseStream
          ? 'server_stream'
          : 'unary';
    return { grpc_type: grpcType, grpc_service: service, grpc_method: method };
}

/** Server metrics with the names of go-grpc-prometheus, plus the process metrics of prom-client. */
export class GatewayMetrics {
    readonly registry = new Registry();
    readonly started: Counter;
    readonly handled: Counter;
    readonly handlingSeconds: Histogram;
    readonly received: Counter;
    readonly sent: Counter;
    /** 1 when the last health probe of a (channel, chaincode) succeeded, else 0 (see `health.ts`). */
    readonly fabricUp: Gauge;

    constructor() {
        collectDefaultMetrics({ register: this.registry });
        const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'];
        const registers = [this.registry];
        this.started = new Counter({
            name: 'grpc_server_started_total',
            help: 'Total number of RPCs started on the server.',
            labelNames,
            registers,
        });
        this.handled = new Counter({
            name: 'grpc_server_handled_total',
            help: 'Total number of RPCs completed on the server, regardless of success or failure.',
            labelNames: [...labelNames, 'grpc_code'],
            registers,
        });
        this.handlingSeconds = new Histogram({
            name: 'grpc_server_handling_seconds',
            help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
            labelNames,
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            registers,
        });
        this.received = new Counter({
            name: 'grpc_server_msg_received_total',
            help: 'Total number of RPC stream messages received on the server.',
            labelNames,
            registers,
        });
        this.sent = new Counter({
            name: 'grpc_server_msg_sent_total',
            help: 'Total number of gRPC stream messages sent by the server.',
            labelNames,
            registers,
        });
        this.fabricUp = new Gauge({
            name: 'orchestrator_fabric_up',
            help: 'Whether the last health probe (evaluate of orchestrator.info QueryVersion) of the channel and chaincode succeeded (1) or not (0).',
            labelNames: ['channel', 'chaincode'],
            registers,
        });
    }

    /** Serve `/metrics` over HTTP; resolves with the bound port. */
    listen(host: string, port: number): Promise<{ server: http.Server; port: number }> {
        const server = http.createServer((req, res) => {
            if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
                res.writeHead(404).end();
                return;
            }
            this.registry.metrics().then(
                (text) => {
                    res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text);
                },
                (err: unknown) => {
                    res.writeHead(500).end(String(err));
                },
            );
        });
        return new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, host, () => {
                const address = server.address();
                resolve({ server, port: typeof address === 'object' && address ? address.port : port });
            });
        });
    }
}
