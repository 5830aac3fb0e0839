import pino, { type Logger } from 'pino';

/** JSON logs on stdout; private keys and certificates never appear in log fields. */
export function newLogger(level: string, destination?: pino.DestinationStream): Logger {
    const options: pino.LoggerOptions = {
        level,
        base: { service: 'orchestrator-gateway' },
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: ['privateKey', '*.privateKey'],
    };
    return destination ? pino(options, destination) : pino(options);
}
