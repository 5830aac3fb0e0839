/**
 * Field validation primitives (behavior-assets §1.4, §1.5; behavior-tasks §0.3).
 *
 * A rule is a function returning the reason a value fails, or `undefined` when it passes. A `Failures`
 * collector checks every field of a message, keeps the first failing rule of each field, and finally throws
 * `invalidAsset(kind, failures)` (OE0101) when any field failed.
 *
 * The reasons imitate the texts of the validation library the reference uses; only the OE code is relied on
 * by clients.
 *
 * Usage:
 *
 *     const failures = new Failures();
 *     failures.field('key', msg.key, required, uuid);
 *     failures.field('name', msg.name, name);
 *     failures.field('description', msg.description, required, addressable);
 *     failures.throwIfAny('function');
 */
import { formatFailures, invalidAsset } from './errors';

export type Rule<T> = (value: T) => string | undefined;

/** Structural view of `orchestrator.Addressable`, so this module does not depend on generated code. */
export interface AddressableLike {
    checksum?: string | null;
    storage_address?: string | null;
}

/** Collects per-field failures; only the first failing rule of a field is kept. */
export class Failures {
    readonly #failures = new Map<string, string>();

    /** Apply `rules` in order to `value`; record the first failure under `field`. */
    field<T>(field: string, value: T, ...rules: readonly Rule<T>[]): this {
        if (this.#failures.has(field)) {
            return this;
        }
        for (const rule of rules) {
            const reason = rule(value);
            if (reason !== undefined) {
                this.#failures.set(field, reason);
                break;
            }
        }
        return this;
    }

    /** Record a failure computed by the caller (no-op when the field already failed). */
    add(field: string, reason: string): this {
        if (!this.#failures.has(field)) {
            this.#failures.set(field, reason);
        }
        return this;
    }

    get isEmpty(): boolean {
        return this.#failures.size === 0;
    }

    get entries(): ReadonlyMap<string, string> {
        return this.#failures;
    }

    /** The failures as the reason of an enclosing field: `(a: x; b: y.)`, fields sorted by name. */
    nested(): string {
        return `(${formatFailures(this.#failures)})`;
    }

    /** Throw `InvalidAsset(OE0101) "<kind> is not valid: ..."` when any field failed. */
    throwIfAny(kind: string): void {
        if (!this.isEmpty) {
            throw invalidAsset(kind, this.#failures);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Predicates

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX_PATTERN = /^[0-9a-fA-F]+$/;

/** Lower-case canonical UUID; version and variant nibbles are not checked. */
export function isUuid(value: string): boolean {
    return UUID_PATTERN.test(value);
}

export function byteLength(value: string): number {
    return Buffer.byteLength(value, 'utf8');
}

/** Number of Unicode code points (Go `utf8.RuneCountInString`). */
function runeCount(value: string): number {
    let count = 0;
    for (let i = 0; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        // A high surrogate followed by a low one is a single code point.
        if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < value.length) {
            const next = value.charCodeAt(i + 1);
            if (next >= 0xdc00 && next <= 0xdfff) {
                i++;
            }
        }
        count++;
    }
    return count;
}

/** Empty, null and undefined values, zero numbers, empty lists and empty maps count as "blank". */
function isBlank(value: unknown): boolean {
    if (value === undefined || value === null) {
        return true;
    }
    if (typeof value === 'string') {
        return value === '';
    }
    if (typeof value === 'number') {
        return value === 0;
    }
    if (typeof value === 'boolean') {
        return !value;
    }
    if (Array.isArray(value)) {
        return value.length === 0;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------------------
// Rules

/**
 * required: non-empty string (whitespace accepted), non-empty list, non-zero number/enum, or a present
 * sub-message (an empty message object is present).
 */
export const required: Rule<unknown> = (value) => (isBlank(value) ? 'cannot be blank' : undefined);

/** uuid: empty passes (only `required` rejects it). */
export const uuid: Rule<string | null | undefined> = (value) =>
    value === '' || value === null || value === undefined || isUuid(value) ? undefined : 'must be a valid UUID';

/** length(min, max) in UTF-8 bytes; empty values are skipped. */
export function length(min: number, max: number): Rule<string | null | undefined> {
    return (value) => {
        if (value === '' || value === null || value === undefined) {
            return undefined;
        }
        const n = byteLength(value);
        if (n >= min && n <= max) {
            return undefined;
        }
        return min === max ? `the length must be exactly ${min}` : `the length must be between ${min} and ${max}`;
    };
}

/** hex: either case; empty passes. */
export const hex: Rule<string | null | undefined> = (value) =>
    value === '' || value === null || value === undefined || HEX_PATTERN.test(value)
        ? undefined
        : 'must be a valid hexadecimal number';

/** in(set): the zero value (0, '', false) is always accepted. */
export function oneOf<T>(allowed: readonly T[]): Rule<T> {
    return (value) => (isBlank(value) || allowed.includes(value) ? undefined : 'must be a valid value');
}

/** name: required and 1 to 100 bytes. */
export const name: Rule<string | null | undefined> = (value) => required(value) ?? length(1, 100)(value);

/** each(rule): every element satisfies the rule; failures are reported by index. */
export function each<T>(rule: Rule<T>): Rule<readonly T[] | null | undefined> {
    return (values) => {
        if (values === null || values === undefined) {
            return undefined;
        }
        const failures = new Failures();
        values.forEach((value, index) => failures.field(String(index), value, rule));
        return failures.isEmpty ? undefined : failures.nested();
    };
}

/** metadata: every key and every value at most 100 bytes; empty strings and any number of entries allowed. */
export const metadata: Rule<Readonly<Record<string, string>> | null | undefined> = (map) => {
    if (map === null || map === undefined) {
        return undefined;
    }
    const failures = new Failures();
    for (const [key, value] of Object.entries(map)) {
        if (byteLength(key) > 100) {
            failures.add(key, 'key: the length must be between 0 and 100');
        } else if (byteLength(value) > 100) {
            failures.add(key, 'the length must be between 0 and 100');
        }
    }
    return failures.isEmpty ? undefined : failures.nested();
};

/** url (storage address): govalidator's IsURL; empty passes (combine with `required`). */
export const url: Rule<string | null | undefined> = (value) =>
    value === '' || value === null || value === undefined || isURL(value) ? undefined : 'must be a valid URL';

/** request-url: empty passes; otherwise an absolute request URI with a scheme. */
export const requestUrl: Rule<string | null | undefined> = (value) =>
    value === '' || value === null || value === undefined || isRequestURL(value)
        ? undefined
        : 'must be a valid request URL';

/** The rules of an Addressable's own fields (§1.4.1), as a collector. */
export function addressableFailures(value: AddressableLike): Failures {
    return new Failures()
        .field('checksum', value.checksum ?? '', required, length(64, 64), hex)
        .field('storage_address', value.storage_address ?? '', required, url);
}

/** Addressable: an absent value passes (combine with `required`); a present one must satisfy §1.4.1. */
export const addressable: Rule<AddressableLike | null | undefined> = (value) => {
    if (value === null || value === undefined) {
        return undefined;
    }
    const failures = addressableFailures(value);
    return failures.isEmpty ? undefined : failures.nested();
};

// ---------------------------------------------------------------------------------------------------------
// govalidator IsURL and IsRequestURL, with the Go `net/url` parser they rely on

/** Go's regexp `\s` is ASCII-only: `[\t\n\f\r ]`. */
const GO_SPACE = '\\t\\n\\f\\r ';

const IPV6 =
    '(([0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|' +
    '([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|' +
    '([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|' +
    '[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:)|' +
    'fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}|' +
    '::(ffff(:0{1,4}){0,1}:){0,1}((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])|' +
    '([0-9a-fA-F]{1,4}:){1,4}:((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]))';
const URL_SCHEME = '((ftp|tcp|udp|wss?|https?):\\/\\/)';
const URL_USER = `([^${GO_SPACE}]+(:[^${GO_SPACE}]*)?@)`;
const URL_IPV4 =
    '([1-9]\\d?|1\\d\\d|2[01]\\d|22[0-3]|24\\d|25[0-5])(\\.(\\d{1,2}|1\\d\\d|2[0-4]\\d|25[0-5])){2}' +
    '(?:\\.([0-9]\\d?|1\\d\\d|2[0-4]\\d|25[0-5]))';
const URL_SUBDOMAIN = '((www\\.)|([a-zA-Z0-9]+([\\-_.]?[a-zA-Z0-9])*[a-zA-Z0-9]\\.[a-zA-Z0-9]+))';
/**
 * The reference writes this part as `([L]+-?-?)*[L]+`, whose nested quantifiers make a backtracking engine
 * exponential on non-matching input (Go's engine is linear). `[L]+(-{1,2}[L]+)*` denotes the same language:
 * letters/digits, ending with one, with runs of one or two hyphens in between.
 */
const URL_LABEL_CHARS = 'a-zA-Z\\u00a1-\\uffff0-9';
const URL_HOST_TAIL = `([${URL_LABEL_CHARS}]+(?:-{1,2}[${URL_LABEL_CHARS}]+)*)(?:\\.([a-zA-Z\\u00a1-\\uffff]{1,}))?`;
const URL_PORT = '(:(\\d{1,5}))';
const URL_PATH = `((\\/|\\?|#)[^${GO_SPACE}]*)`;
const URL_PATTERN = new RegExp(
    `^${URL_SCHEME}?${URL_USER}?((${URL_IPV4}|(\\[${IPV6}\\])|` +
        `(([a-zA-Z0-9]([a-zA-Z0-9\\-_]+)?[a-zA-Z0-9]([\\-.][a-zA-Z0-9]+)*)|(${URL_SUBDOMAIN}?))?${URL_HOST_TAIL}))` +
        `\\.?${URL_PORT}?${URL_PATH}?$`,
    'u',
);

/** govalidator `IsURL` at the commit the reference pins (behavior-assets §1.4.1). */
export function isURL(value: string): boolean {
    if (value === '' || runeCount(value) >= 2083 || byteLength(value) <= 3 || value.startsWith('.')) {
        return false;
    }
    // Without `://`, a colon is taken for a port: parse as if `http://` preceded it (parse step only).
    const toParse = value.includes(':') && !value.includes('://') ? `http://${value}` : value;
    const parsed = parseGoURL(toParse, false);
    if (parsed === undefined || parsed.host.startsWith('.')) {
        return false;
    }
    if (parsed.host === '' && parsed.path !== '' && !parsed.path.includes('.')) {
        return false;
    }
    return URL_PATTERN.test(value);
}

/** govalidator `IsRequestURL`: Go `url.ParseRequestURI` succeeds and the scheme is not empty. */
export function isRequestURL(value: string): boolean {
    const parsed = parseGoURL(value, true);
    return parsed !== undefined && parsed.scheme !== '';
}

interface GoURL {
    scheme: string;
    host: string;
    /** Unescaped path. */
    path: string;
}

type Escaping = 'path' | 'host' | 'zone' | 'userinfo' | 'fragment';

/**
 * The parts of Go's `net/url` parse (`Parse` when `viaRequest` is false, `ParseRequestURI` otherwise) that
 * decide success, the scheme, the host and the path. Returns undefined where Go returns an error.
 */
function parseGoURL(raw: string, viaRequest: boolean): GoURL | undefined {
    let rest = raw;
    if (!viaRequest) {
        const hash = rest.indexOf('#');
        if (hash >= 0) {
            if (unescape(rest.slice(hash + 1), 'fragment') === undefined) {
                return undefined;
            }
            rest = rest.slice(0, hash);
        }
    }
    // Control characters are refused anywhere (bytes below 0x20 and DEL).
    for (let i = 0; i < rest.length; i++) {
        const c = rest.charCodeAt(i);
        if (c < 0x20 || c === 0x7f) {
            return undefined;
        }
    }
    if (rest === '' && viaRequest) {
        return undefined;
    }
    if (rest === '*') {
        return { scheme: '', host: '', path: '*' };
    }
    const split = splitScheme(rest);
    if (split === undefined) {
        return undefined;
    }
    const scheme = split.scheme.toLowerCase();
    rest = split.rest;
    if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
        rest = rest.slice(0, -1);
    } else {
        const q = rest.indexOf('?');
        if (q >= 0) {
            rest = rest.slice(0, q);
        }
    }
    if (!rest.startsWith('/')) {
        if (scheme !== '') {
            // Opaque URL such as `mailto:x`: no host, no path.
            return { scheme, host: '', path: '' };
        }
        if (viaRequest) {
            return undefined;
        }
        const slash = rest.indexOf('/');
        const firstSegment = slash >= 0 ? rest.slice(0, slash) : rest;
        if (firstSegment.includes(':')) {
            return undefined;
        }
    }
    let host = '';
    if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
        const afterSlashes = rest.slice(2);
        const slash = afterSlashes.indexOf('/');
        const authority = slash >= 0 ? afterSlashes.slice(0, slash) : afterSlashes;
        rest = slash >= 0 ? afterSlashes.slice(slash) : '';
        const parsedHost = parseAuthority(authority);
        if (parsedHost === undefined) {
            return undefined;
        }
        host = parsedHost;
    }
    const path = unescape(rest, 'path');
    if (path === undefined) {
        return undefined;
    }
    return { scheme, host, path };
}

/** Go `getScheme`: a scheme is letters, then letters/digits/`+-.`, ended by `:`. */
function splitScheme(raw: string): { scheme: string; rest: string } | undefined {
    for (let i = 0; i < raw.length; i++) {
        const c = raw.charAt(i);
        if (/[a-zA-Z]/.test(c)) {
            continue;
        }
        if (/[0-9+\-.]/.test(c)) {
            if (i === 0) {
                return { scheme: '', rest: raw };
            }
            continue;
        }
        if (c === ':') {
            if (i === 0) {
                return undefined; // missing protocol scheme
            }
            return { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
        }
        return { scheme: '', rest: raw };
    }
    return { scheme: '', rest: raw };
}

/** Go `parseAuthority`: optional `userinfo@`, then the host; returns the unescaped host. */
function parseAuthority(authority: string): string | undefined {
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
        const userinfo = authority.slice(0, at);
        if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo) || unescape(userinfo, 'userinfo') === undefined) {
            return undefined;
        }
    }
    return parseHost(at >= 0 ? authority.slice(at + 1) : authority);
}

/** Go `parseHost`: bracketed IPv6 literal with optional zone, or a host with an optional numeric port. */
function parseHost(host: string): string | undefined {
    if (host.startsWith('[')) {
        const close = host.lastIndexOf(']');
        if (close < 0 || !isValidOptionalPort(host.slice(close + 1))) {
            return undefined;
        }
        const zone = host.slice(0, close).indexOf('%25');
        if (zone >= 0) {
            const a = unescape(host.slice(0, zone), 'host');
            const b = unescape(host.slice(zone, close), 'zone');
            const c = unescape(host.slice(close), 'host');
            return a === undefined || b === undefined || c === undefined ? undefined : a + b + c;
        }
    } else {
        const colon = host.lastIndexOf(':');
        if (colon >= 0 && !isValidOptionalPort(host.slice(colon))) {
            return undefined;
        }
    }
    return unescape(host, 'host');
}

function isValidOptionalPort(port: string): boolean {
    return port === '' || /^:[0-9]*$/.test(port);
}

/** ASCII characters a host may contain unescaped (Go `shouldEscape` in host mode returns false). */
const HOST_ALLOWED = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]$/;

/** Non-ASCII bytes are always allowed in hosts; ASCII ones per `HOST_ALLOWED`. */
function isHostByte(byte: number): boolean {
    return byte >= 0x80 || HOST_ALLOWED.test(String.fromCharCode(byte));
}

/** Go `unescape`: refuses malformed `%` escapes (and, in hosts, escaped ASCII or unsafe ASCII characters). */
function unescape(value: string, mode: Escaping): string | undefined {
    const bytes: number[] = [];
    const source = Buffer.from(value, 'utf8');
    for (let i = 0; i < source.length; i++) {
        const c = source[i] ?? 0;
        if (c === 0x25) {
            const h = source.subarray(i + 1, i + 3).toString('latin1');
            if (!/^[0-9a-fA-F]{2}$/.test(h)) {
                return undefined;
            }
            const decoded = parseInt(h, 16);
            // In a host, %-escapes are only for non-ASCII bytes (except `%25` in a zone).
            if (mode === 'host' && decoded < 0x80 && h !== '25') {
                return undefined;
            }
            // In a zone, an escape may only stand for a byte allowed unescaped (or a space).
            if (mode === 'zone' && h !== '25' && decoded !== 0x20 && (decoded >= 0x80 || !isHostByte(decoded))) {
                return undefined;
            }
            bytes.push(decoded);
            i += 2;
            continue;
        }
        if ((mode === 'host' || mode === 'zone') && c < 0x80 && !isHostByte(c)) {
            return undefined;
        }
        bytes.push(c);
    }
    return Buffer.from(bytes).toString('utf8');
}
