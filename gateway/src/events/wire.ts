/**
 * Our own event framing, on the bytes the chaincode encoded (forwarded without re-encoding them): the
 * length-delimited events of a `chaincode-updates` payload, the `channel` field set on an event, the
 * fields of a QueryEventsResponse. Fabric's messages are read with `@hyperledger/fabric-protos` only
 * (`fabric/blocks.ts`).
 */

/** Read a varint at `offset`; returns the value and the offset after it. */
function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] {
    let value = 0;
    let shift = 0;
    let pos = offset;
    for (;;) {
        if (pos >= bytes.length) {
            throw new Error('truncated varint');
        }
        const byte = bytes[pos++] ?? 0;
        value += (byte & 0x7f) * 2 ** shift;
        if ((byte & 0x80) === 0) {
            return [value, pos];
        }
        shift += 7;
        if (shift > 49) {
            throw new Error('varint too long');
        }
    }
}

function encodeVarint(value: number): Uint8Array {
    const out: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
        out.push((rest % 0x80) | 0x80);
        rest = Math.floor(rest / 0x80);
    }
    out.push(rest);
    return Uint8Array.from(out);
}

/** Split consecutive length-delimited messages into views of the original buffer. */
export function splitDelimited(bytes: Uint8Array): Uint8Array[] {
    const parts: Uint8Array[] = [];
    let pos = 0;
    while (pos < bytes.length) {
        const [length, start] = readVarint(bytes, pos);
        const end = start + length;
        if (end > bytes.length) {
            throw new Error('truncated delimited message');
        }
        parts.push(bytes.subarray(start, end));
        pos = end;
    }
    return parts;
}

/** A length-delimited field (wire type 2): tag, length, then the bytes. */
export function lengthDelimitedField(fieldNumber: number, value: Uint8Array): Buffer {
    return Buffer.concat([encodeVarint(fieldNumber * 8 + 2), encodeVarint(value.length), value]);
}

/**
 * Set a string field on an encoded message by appending it: a parser keeps the last value of a
 * singular field, so the rest of the message is forwarded untouched.
 */
export function withStringField(message: Uint8Array, fieldNumber: number, value: string): Buffer {
    if (value === '') {
        return Buffer.from(message);
    }
    return Buffer.concat([message, lengthDelimitedField(fieldNumber, Buffer.from(value, 'utf8'))]);
}
