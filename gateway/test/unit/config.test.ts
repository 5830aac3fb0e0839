import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
    chaincodeFor,
    endorsersFor,
    loadConfig,
    parseChannelConfig,
    parseDuration,
    parseEndorsingOrganizations,
    pinoLevel,
} from '../../src/ops/config';
import { FabricGatewayClient } from '../../src/fabric/gatewayclient';
import { loadWallet } from '../../src/fabric/wallet';

describe('durations', () => {
    it.each([
        ['500ms', 500],
        ['20s', 20_000],
        ['1m30s', 90_000],
        ['1.5h', 5_400_000],
        ['250', 250],
        ['.5s', 500],
        ['5.s', 5000],
        ['+2s', 2000],
        ['1h2m3.5s', 3_723_500],
        ['1500us', 1.5],
        ['1500\u00b5s', 1.5],
        ['1500\u03bcs', 1.5],
        ['0', 0],
    ])('Go duration syntax (distributed §5.5): %s is %d ms', (text, ms) => {
        expect(parseDuration(text)).toBe(ms);
    });

    it.each(['', 'abc', '10x', '5s junk', '-1s', '1.2.3s', 's'])('rejects "%s"', (text) => {
        expect(() => parseDuration(text)).toThrow();
    });
});

describe('LOG_LEVEL (distributed §4.12: zerolog names, case-insensitive)', () => {
    it.each([
        ['INFO', 'info'],
        ['Debug', 'debug'],
        ['WARN', 'warn'],
        ['panic', 'fatal'],
        ['disabled', 'silent'],
        ['nonsense', 'info'],
    ])('%s is pino level %s', (name, level) => {
        expect(pinoLevel(name)).toBe(level);
    });
});

describe('channel configuration', () => {
    it('reads the chart format and the optional chaincode names', () => {
        const config = parseChannelConfig(
            'channels:\n  mychannel:\n    - Org1MSP\n    - Org2MSP\nchaincodes:\n  mychannel: cc1\n',
        );
        expect([...(config.channels.get('mychannel') ?? [])]).toEqual(['Org1MSP', 'Org2MSP']);
        expect(chaincodeFor({ channelConfig: config, defaultChaincode: 'mycc' }, 'mychannel')).toBe('cc1');
        expect(chaincodeFor({ channelConfig: config, defaultChaincode: 'mycc' }, 'other')).toBe('mycc');
    });

    it('rejects malformed files', () => {
        expect(() => parseChannelConfig('foo: 1')).toThrow('"channels"');
        expect(() => parseChannelConfig('channels: {a: b}')).toThrow('must list MSP ids');
        expect(() => parseChannelConfig('channels: {a: [X]}\nchaincodes: {a: 3}')).toThrow('invalid chaincode');
    });
});

describe('endorsing organizations (ORCHESTRATOR_ENDORSING_ORGANIZATIONS)', () => {
    const channelConfig = parseChannelConfig(
        JSON.stringify({ channels: { mychannel: ['MyOrg2MSP', 'MyOrg1MSP'], yourchannel: ['MyOrg1MSP'] } }),
    );

    it('leaves the choice to the Gateway service by default', () => {
        const endorsingOrganizations = parseEndorsingOrganizations('');
        expect(endorsingOrganizations).toEqual({ kind: 'gateway' });
        expect(endorsersFor({ endorsingOrganizations, channelConfig }, 'mychannel')).toBeUndefined();
        expect(parseEndorsingOrganizations('gateway')).toEqual({ kind: 'gateway' });
    });

    it('`channel` names every member of the request channel, sorted; an unknown channel leaves the choice', () => {
        const endorsingOrganizations = parseEndorsingOrganizations('channel');
        expect(endorsersFor({ endorsingOrganizations, channelConfig }, 'mychannel')).toEqual([
            'MyOrg1MSP',
            'MyOrg2MSP',
        ]);
        expect(endorsersFor({ endorsingOrganizations, channelConfig }, 'yourchannel')).toEqual(['MyOrg1MSP']);
        expect(endorsersFor({ endorsingOrganizations, channelConfig }, 'nochannel')).toBeUndefined();
    });

    it('takes a comma-separated list, and refuses one without any MSP id', () => {
        const endorsingOrganizations = parseEndorsingOrganizations(' MyOrg1MSP , MyOrg3MSP ');
        expect(endorsersFor({ endorsingOrganizations, channelConfig }, 'mychannel')).toEqual([
            'MyOrg1MSP',
            'MyOrg3MSP',
        ]);
        expect(() => parseEndorsingOrganizations(' , ')).toThrow(/no MSP id/);
    });
});

describe('environment', () => {
    let dir: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
        fs.writeFileSync(path.join(dir, 'channels.yaml'), 'channels: {mychannel: [Org1MSP]}');
    });

    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it('applies the defaults', () => {
        const config = loadConfig({ ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml') });
        expect(config.host).toBe('127.0.0.1');
        expect(config.port).toBe(9000);
        expect(config.metricsPort).toBe(8484);
        expect(config.metricsEnabled).toBe(true);
        expect(config.gatewayTimeoutMs).toBe(20_000);
        expect(config.retry).toEqual({
            maxAttempts: 5,
            budgetMs: 30_000,
            conflictAttempts: 20,
            baseDelayMs: 100,
            maxDelayMs: 2000,
        });
        expect(config.tls.enabled).toBe(false);
        expect(config.defaultChaincode).toBe('mycc');
        expect(config.maxConcurrentSubmits).toBe(256);
        expect(config.allowAnyChaincode).toBe(false);
        expect(config.health).toEqual({ intervalMs: 10_000, startupGraceMs: 15_000 });
    });

    it('reads the peer probe interval (0 = off) and start-up grace, and the any-chaincode switch', () => {
        const base = { ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml') };
        const config = loadConfig({
            ...base,
            ORCHESTRATOR_HEALTH_CHECK_INTERVAL: '2s',
            ORCHESTRATOR_HEALTH_STARTUP_GRACE: '1m',
            ORCHESTRATOR_ALLOW_ANY_CHAINCODE: 'true',
        });
        expect(config.health).toEqual({ intervalMs: 2000, startupGraceMs: 60_000 });
        expect(config.allowAnyChaincode).toBe(true);
        expect(loadConfig({ ...base, ORCHESTRATOR_HEALTH_CHECK_INTERVAL: '0' }).health.intervalMs).toBe(0);
        expect(() => loadConfig({ ...base, ORCHESTRATOR_HEALTH_CHECK_INTERVAL: 'often' })).toThrow(
            'ORCHESTRATOR_HEALTH_CHECK_INTERVAL',
        );
    });

    it('reads the Substra chart variables', () => {
        const config = loadConfig({
            ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml'),
            ORCHESTRATOR_TX_RETRY_BUDGET: '500ms',
            ORCHESTRATOR_FABRIC_GATEWAY_TIMEOUT: '40s',
            ORCHESTRATOR_TLS_ENABLED: 'true',
            ORCHESTRATOR_TLS_CERT_PATH: '/c',
            ORCHESTRATOR_TLS_KEY_PATH: '/k',
            ORCHESTRATOR_MTLS_ENABLED: 'true',
            ORCHESTRATOR_TLS_SERVER_CA_CERT: '/ca',
            ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR: '/clients',
            ORCHESTRATOR_VERIFY_CLIENT_MSP_ID: 'true',
            METRICS_ENABLED: 'false',
            LOG_LEVEL: 'DEBUG',
        });
        expect(config.retry.budgetMs).toBe(500);
        expect(config.gatewayTimeoutMs).toBe(40_000);
        expect(config.tls).toEqual({
            enabled: true,
            certPath: '/c',
            keyPath: '/k',
            mtlsEnabled: true,
            serverCaCertPath: '/ca',
            clientCaCertDir: '/clients',
        });
        expect(config.verifyClientMspId).toBe(true);
        expect(config.metricsEnabled).toBe(false);
        expect(config.logLevel).toBe('debug');
    });

    it('listens on every interface under the Substra chart (ORCHESTRATOR_MODE set, distributed §4.10, §5.5)', () => {
        const base = { ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml') };
        const chart = loadConfig({ ...base, ORCHESTRATOR_MODE: 'distributed' });
        expect(chart.host).toBe('0.0.0.0');
        expect(chart.metricsHost).toBe('0.0.0.0');
        expect(loadConfig({ ...base, ORCHESTRATOR_MODE: 'distributed', ORCHESTRATOR_HOST: '10.0.0.1' }).host).toBe(
            '10.0.0.1',
        );
    });

    it('derives the peer from the chart connection profile ORCHESTRATOR_NETWORK_CONFIG (distributed §4.12, §5.5)', () => {
        const profile = `
version: 1.0.0
client:
  organization: MyOrg1
  tlsCerts:
    client:
      key: {path: /var/hyperledger/tls/client/pair/tls.key}
      cert: {path: /var/hyperledger/tls/client/pair/tls.crt}
channels:
  mychannel:
    peers:
      peer0.org1:7051: {endorsingPeer: true}
organizations:
  MyOrg1:
    mspid: MyOrg1MSP
    peers: [peer0.org1:7051]
peers:
  peer0.org1:7051:
    url: peer0.org1:7051
    tlsCACerts:
      path: /var/hyperledger/tls/server/cert/cacert.pem
`;
        fs.writeFileSync(path.join(dir, 'fabric-config.yaml'), profile);
        const base = {
            ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml'),
            ORCHESTRATOR_NETWORK_CONFIG: path.join(dir, 'fabric-config.yaml'),
            ORCHESTRATOR_MSPID: 'MyOrg1MSP',
        };
        expect(loadConfig(base).peer).toEqual({
            endpoint: 'peer0.org1:7051',
            tlsCaCertPath: '/var/hyperledger/tls/server/cert/cacert.pem',
            tlsClientCertPath: '/var/hyperledger/tls/client/pair/tls.crt',
            tlsClientKeyPath: '/var/hyperledger/tls/client/pair/tls.key',
            hostAlias: '',
        });
        // explicit variables win over the profile
        const explicit = loadConfig({ ...base, ORCHESTRATOR_PEER_ENDPOINT: 'other:7051' });
        expect(explicit.peer.endpoint).toBe('other:7051');
        expect(explicit.peer.tlsCaCertPath).toBe('/var/hyperledger/tls/server/cert/cacert.pem');
        // without ORCHESTRATOR_MSPID, the organization of `client.organization` names the identity
        const { ORCHESTRATOR_MSPID: _unused, ...withoutMspId } = base;
        const fromProfile = loadConfig(withoutMspId);
        expect(fromProfile.mspId).toBe('MyOrg1MSP');
        expect(fromProfile.peer.endpoint).toBe('peer0.org1:7051');
        fs.writeFileSync(path.join(dir, 'fabric-config.yaml'), 'version: 1.0.0\n');
        expect(() => loadConfig(base)).toThrow('ORCHESTRATOR_NETWORK_CONFIG: connection profile: no peer found');
    });

    it('fails fast on missing or invalid settings', () => {
        expect(() => loadConfig({})).toThrow('ORCHESTRATOR_CHANNEL_CONFIG is required');
        const base = { ORCHESTRATOR_CHANNEL_CONFIG: path.join(dir, 'channels.yaml') };
        expect(() => loadConfig({ ...base, ORCHESTRATOR_TLS_ENABLED: 'true' })).toThrow(
            'ORCHESTRATOR_TLS_CERT_PATH is required',
        );
        expect(() => loadConfig({ ...base, ORCHESTRATOR_VERIFY_CLIENT_MSP_ID: 'maybe' })).toThrow('invalid boolean');
        expect(() => loadConfig({ ...base, ORCHESTRATOR_VERIFY_CLIENT_MSP_ID: 'true' })).toThrow(
            'ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR is required',
        );
        expect(() => loadConfig({ ...base, ORCHESTRATOR_TX_RETRY_BUDGET: 'soon' })).toThrow(
            'ORCHESTRATOR_TX_RETRY_BUDGET',
        );
    });
});

describe('wallet', () => {
    let dir: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-wallet-'));
    });

    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    function writeIdentity(base: string, withPeer: boolean): void {
        const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        fs.mkdirSync(path.join(base, 'signcerts'), { recursive: true });
        fs.mkdirSync(path.join(base, 'keystore'), { recursive: true });
        fs.writeFileSync(path.join(base, 'signcerts', 'cert.pem'), 'CERT');
        fs.writeFileSync(path.join(base, 'keystore', 'abc_sk'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
        if (withPeer) {
            fs.writeFileSync(
                path.join(base, 'peer.json'),
                JSON.stringify({ endpoint: 'peer2:7051', tlsCaCertPath: 'tls/ca.pem' }),
            );
        }
    }

    /** The wallet of the identities written below `dir`/wallet. */
    function loadWalletDir(): ReturnType<typeof loadWallet> {
        return loadWallet({ walletDir: path.join(dir, 'wallet'), mspId: '', fabricCertPath: '', fabricKeyPath: '' });
    }

    /** A gateway client whose wallet directory holds the one identity Org1MSP, with `endpoint` as default peer. */
    function org1WalletClient(endpoint: string, timeoutMs: number): FabricGatewayClient {
        writeIdentity(path.join(dir, 'wallet', 'Org1MSP'), false);
        const wallet = loadWalletDir();
        return new FabricGatewayClient({
            wallet,
            defaultPeer: { endpoint, tlsCaCertPath: '', tlsClientCertPath: '', tlsClientKeyPath: '', hostAlias: '' },
            timeoutMs,
        });
    }

    /** An evaluation of y on contract x of chaincode cc, channel c, as `mspid`. */
    function evaluation(mspid: string): Parameters<FabricGatewayClient['evaluate']>[0] {
        return { mspid, channel: 'c', chaincode: 'cc', contract: 'x', fn: 'y', argument: new Uint8Array() };
    }

    it('reads one identity per MSP directory, with its optional peer', () => {
        writeIdentity(path.join(dir, 'wallet', 'Org1MSP'), false);
        writeIdentity(path.join(dir, 'wallet', 'Org2MSP'), true);
        const wallet = loadWalletDir();
        expect([...wallet.keys()]).toEqual(['Org1MSP', 'Org2MSP']);
        expect(wallet.get('Org1MSP')?.certificate.toString()).toBe('CERT');
        expect(wallet.get('Org1MSP')?.peer).toBeUndefined();
        expect(wallet.get('Org2MSP')?.peer).toMatchObject({
            endpoint: 'peer2:7051',
            tlsCaCertPath: path.join(dir, 'wallet', 'Org2MSP', 'tls', 'ca.pem'),
        });
    });

    it('adds the single identity of the Substra chart variables', () => {
        writeIdentity(path.join(dir, 'msp'), false);
        const wallet = loadWallet({
            walletDir: '',
            mspId: 'MyOrg1MSP',
            fabricCertPath: path.join(dir, 'msp', 'signcerts', 'cert.pem'),
            fabricKeyPath: path.join(dir, 'msp', 'keystore', 'abc_sk'),
        });
        expect([...wallet.keys()]).toEqual(['MyOrg1MSP']);
        expect(() => loadWallet({ walletDir: '', mspId: '', fabricCertPath: '', fabricKeyPath: '' })).toThrow(
            'wallet is empty',
        );
    });

    it('refuses to invoke for an organization that has no identity', async () => {
        const client = org1WalletClient('localhost:1', 100);
        const request = evaluation('Org2MSP');
        await expect(client.evaluate(request)).rejects.toMatchObject({
            kind: 'other',
            message: 'no identity of organization "Org2MSP" in the wallet',
        });
        client.close();
    });

    it('reports an unreachable peer as unavailable', async () => {
        const client = org1WalletClient('127.0.0.1:1', 2000);
        const request = evaluation('Org1MSP');
        await expect(client.evaluate(request)).rejects.toMatchObject({ kind: 'unavailable' });
        client.close();
    });
});
