import { randomBytes } from 'node:crypto';
import {
    type Metadata,
    type ServerInterceptingCallInterface,
    type ServerInterceptor,
    ResponderBuilder,
    ServerInterceptingCall,
    ServerListenerBuilder,
    status,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { unaryStatus } from '../errors';
import { chaincodeFor, type GatewayConfig } from '../ops/config';
import { type GatewayMetrics, codeName, rpcLabels } from '../ops/metrics';
import { headerErrors, isInfrastructureMethod, singleHeader } from './headers';
import type { MspVerifier } from './tls';

/** A call whose incoming metadata passes through `onMetadata`, which forwards it or ends the call. */
function metadataInterceptingCall(
    call: ServerInterceptingCallInterface,
    onMetadata: (metadata: Metadata, next: (metadata: Metadata) => void) => void,
): ServerInterceptingCall {
    const listener = new ServerListenerBuilder().withOnReceiveMetadata(onMetadata).build();
    return new ServerInterceptingCall(
        call,
        new ResponderBuilder()
            .withStart((next) => {
                next(listener);
            })
            .build(),
    );
}

/** A short random request id: 8 hex characters. */
export function newRequestId(): string {
    return randomBytes(4).toString('hex');
}

/**
 * Request id: the `reqid` header of a unary call when sent exactly once, else a generated one. It is
 * written back into the metadata so that the next interceptors and the handler read the same value.
 */
export function requestIdInterceptor(): ServerInterceptor {
    return (method, call) => {
        const useHeader = !method.responseStream;
        return metadataInterceptingCall(call, (metadata, next) => {
            const id = (useHeader ? singleHeader(metadata, 'reqid') : undefined) || newRequestId();
            metadata.set('reqid', id);
            next(metadata);
        });
    };
}

/** go-grpc-prometheus counters and histogram, and one JSON log line per finished call. */
export function observabilityInterceptor(metrics: GatewayMetrics | undefined, logger: Logger): ServerInterceptor {
    return (method, call) => {
        const labels = rpcLabels(method.path, method.requestStream, method.responseStream);
        const started = process.hrtime.bigint();
        let fields: Record<string, string | undefined> = { method: method.path };
        let finished = false;
        metrics?.started.inc({ ...labels });
        const finish = (code: status, details: string | undefined): void => {
            if (finished) {
                return;
            }
            finished = true;
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            metrics?.handled.inc({ ...labels, grpc_code: codeName(code) });
            metrics?.handlingSeconds.observe({ ...labels }, seconds);
            const line = { ...fields, code: codeName(code), durationMs: Math.round(seconds * 1e4) / 10 };
            if (code === status.OK) {
                logger.info(line, 'call finished');
            } else {
                logger.warn({ ...line, error: details }, 'call failed');
            }
        };
        const listener = new ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, next) => {
                fields = {
                    reqid: singleHeader(metadata, 'reqid'),
                    mspid: singleHeader(metadata, 'mspid'),
                    channel: singleHeader(metadata, 'channel'),
                    method: method.path,
                };
                next(metadata);
            })
            .withOnReceiveMessage((message, next) => {
                metrics?.received.inc({ ...labels });
                next(message);
            })
            .withOnCancel(() => {
                finish(status.CANCELLED, 'cancelled by the client');
            })
            .build();
        const responder = new ResponderBuilder()
            .withStart((next) => {
                next(listener);
            })
            .withSendMessage((message, next) => {
                metrics?.sent.inc({ ...labels });
                next(message);
            })
            .withSendStatus((sent, next) => {
                finish(sent.code, sent.details);
                next(sent);
            })
            .build();
        return new ServerInterceptingCall(call, responder);
    };
}

/**
 * Error conversion of unary calls ({@link unaryStatus}): an UNKNOWN status whose message holds an
 * orchestration error code takes that code's status. Streams and infrastructure methods are left alone.
 */
export function errorMappingInterceptor(): ServerInterceptor {
    return (method, call) => {
        if (method.responseStream || isInfrastructureMethod(method.path)) {
            return new ServerInterceptingCall(call);
        }
        const responder = new ResponderBuilder()
            .withSendStatus((sent, next) => {
                const code = unaryStatus(sent.code, sent.details);
                next(code === sent.code ? sent : { ...sent, code });
            })
            .build();
        return new ServerInterceptingCall(call, responder);
    };
}

export interface HeaderCheckOptions {
    /** `allowAnyChaincode` omitted = false: only the channel's configured chaincode is accepted. */
    readonly config: Pick<GatewayConfig, 'channelConfig' | 'defaultChaincode'> &
        Partial<Pick<GatewayConfig, 'allowAnyChaincode'>>;
    /** Set when the `mspid` header must match the client certificate. */
    readonly verifier?: MspVerifier | undefined;
}

function reject(call: ServerInterceptingCallInterface, details: string): void {
    call.sendStatus({ code: status.UNKNOWN, details });
}

/** Organizations named anywhere in the channel configuration. */
function knownOrganizations(config: HeaderCheckOptions['config']): Set<string> {
    const known = new Set<string>();
    for (const members of config.channelConfig.channels.values()) {
        for (const mspid of members) {
            known.add(mspid);
        }
    }
    return known;
}

/**
 * Checks `mspid` (and its certificate when verification is on), then `channel` and the caller's
 * membership of it, then resolves `chaincode` (header, else the channel's configured chaincode). A
 * header naming another chaincode than the configured one is refused unless `allowAnyChaincode` is set:
 * each (channel, chaincode) gets an event listener and an index directory for the process lifetime, so
 * callers must not be able to create them at will. Errors
 * are sent as UNKNOWN with the texts of the Substra orchestrator; the error-mapping interceptor gives
 * unary calls the status of their orchestration code.
 */
export function headerInterceptor(options: HeaderCheckOptions): ServerInterceptor {
    const known = knownOrganizations(options.config);
    const check = (metadata: Metadata, call: ServerInterceptingCallInterface): string | undefined => {
        const mspid = singleHeader(metadata, 'mspid');
        if (mspid === undefined) {
            return headerErrors.missingMspid();
        }
        const verdict = options.verifier?.check(mspid, call.getAuthContext().sslPeerCertificate);
        if (verdict !== undefined) {
            return verdict.message;
        }
        const channel = singleHeader(metadata, 'channel');
        if (channel === undefined) {
            return headerErrors.missingChannel();
        }
        if (!known.has(mspid)) {
            return headerErrors.unknownOrganization(mspid);
        }
        if (options.config.channelConfig.channels.get(channel)?.has(mspid) !== true) {
            return headerErrors.noChannelAccess(mspid, channel);
        }
        const chaincodes = metadata.get('chaincode');
        const configured = chaincodeFor(options.config, channel);
        // Backends from 0.43 on send no chaincode header (api §7.4): absent or empty means the configured one.
        if (chaincodes.length === 0 || (chaincodes.length === 1 && chaincodes[0] === '')) {
            metadata.set('chaincode', configured);
            return undefined;
        }
        const chaincode = singleHeader(metadata, 'chaincode');
        if (chaincode === undefined) {
            return headerErrors.missingChaincode();
        }
        if (chaincode !== configured && options.config.allowAnyChaincode !== true) {
            return headerErrors.unconfiguredChaincode(channel, chaincode);
        }
        return undefined;
    };
    return (method, call) => {
        if (isInfrastructureMethod(method.path)) {
            return new ServerInterceptingCall(call);
        }
        return metadataInterceptingCall(call, (metadata, next) => {
            const error = check(metadata, call);
            if (error === undefined) {
                next(metadata);
            } else {
                reject(call, error);
            }
        });
    };
}
