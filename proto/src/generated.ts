// Loads the generated static code after switching protobufjs to plain numbers for 64-bit integers.
//
// The generated types say `number` for int64 (pbjs --force-number), but at run time protobufjs decodes
// int64 as Long objects whenever the `long` package is installed. Removing Long and reconfiguring makes
// decoding match the types. This must run before the generated module is first loaded (it reads
// util.Long when it defines default values), hence this module: import the generated code only from here.
// The setting is process-wide for this copy of protobufjs; no API of ours carries 64-bit values beyond
// 2^53 (the only one is google.protobuf.Timestamp.seconds).
import * as protobuf from 'protobufjs/minimal';

(protobuf.util as { Long?: unknown }).Long = undefined;
protobuf.configure();

export { orchestrator, google } from '../generated/api';
