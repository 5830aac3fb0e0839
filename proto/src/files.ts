import * as path from 'node:path';

/**
 * Absolute path of the directory holding our .proto files (the package root). The files import one
 * another by bare name, so this directory is the only include path needed besides the Google
 * well-known types (which protobufjs and @grpc/proto-loader ship).
 */
export const PROTO_DIR: string = path.resolve(__dirname, '..');

/** Our .proto files, relative to PROTO_DIR, in the order of the API specification. */
export const PROTO_FILES = [
    'common.proto',
    'organization.proto',
    'datasample.proto',
    'datamanager.proto',
    'dataset.proto',
    'function.proto',
    'computeplan.proto',
    'computetask.proto',
    'model.proto',
    'performance.proto',
    'failure_report.proto',
    'profiling.proto',
    'event.proto',
    'info.proto',
] as const;

export type ProtoFile = (typeof PROTO_FILES)[number];

/** The same files as absolute paths. */
export function protoPaths(): string[] {
    return PROTO_FILES.map((file) => path.join(PROTO_DIR, file));
}
