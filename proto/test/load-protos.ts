import * as protobuf from 'protobufjs';
import { protoPaths } from '../src/files';

/** Our .proto files parsed by protobufjs reflection (independent of the generated static code). */
export function loadReflectionRoot(): protobuf.Root {
    const root = new protobuf.Root();
    root.loadSync(protoPaths(), { keepCase: true });
    root.resolveAll();
    return root;
}

/** Every reflected object of the given class below the namespace, depth first in declaration order. */
export function collect<T extends protobuf.ReflectionObject>(
    ns: protobuf.NamespaceBase,
    ctor: abstract new (...args: never[]) => T,
): T[] {
    const found: T[] = [];
    for (const child of ns.nestedArray) {
        if (child instanceof ctor) {
            found.push(child);
        }
        if (child instanceof protobuf.Namespace) {
            found.push(...collect(child, ctor));
        }
    }
    return found;
}
