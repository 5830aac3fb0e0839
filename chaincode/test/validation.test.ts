import { describe, expect, it } from 'vitest';
import {
    Failures,
    addressable,
    byteLength,
    each,
    hex,
    isRequestURL,
    isURL,
    isUuid,
    length,
    metadata,
    name,
    oneOf,
    required,
    requestUrl,
    url,
    uuid,
} from '../src/service/validation';
import { OrchestrationError } from '../src/service/errors';

const UUID = '4c67ad88-309a-48b4-8bc4-c2e2c1a87a83';
const CHECKSUM = 'a'.repeat(32) + 'B'.repeat(32);

describe('validation primitives (behavior-assets §1.4, behavior-tasks §0.3)', () => {
    it('§1.4 required (string): empty fails, whitespace-only passes', () => {
        expect(required('')).toBe('cannot be blank');
        expect(required(' ')).toBeUndefined();
        expect(required('x')).toBeUndefined();
    });

    it('§1.4 required (repeated, sub-message, enum): empty list, absent message and zero fail', () => {
        expect(required([])).toBe('cannot be blank');
        expect(required(['a'])).toBeUndefined();
        expect(required(null)).toBe('cannot be blank');
        expect(required(undefined)).toBe('cannot be blank');
        expect(required({})).toBeUndefined();
        expect(required(0)).toBe('cannot be blank');
        expect(required(3)).toBeUndefined();
        expect(required(false)).toBe('cannot be blank');
        expect(required(true)).toBeUndefined();
    });

    it('§1.4 uuid / §0.3 rule 1: lower-case canonical only, empty passes, no version check', () => {
        expect(uuid(UUID)).toBeUndefined();
        expect(uuid('')).toBeUndefined();
        expect(uuid(null)).toBeUndefined();
        expect(uuid('00000000-0000-0000-0000-000000000000')).toBeUndefined();
        expect(uuid(UUID.toUpperCase())).toBe('must be a valid UUID');
        expect(uuid('4c67ad88309a48b48bc4c2e2c1a87a83')).toBe('must be a valid UUID');
        expect(uuid(`{${UUID}}`)).toBe('must be a valid UUID');
        expect(isUuid(UUID)).toBe(true);
        expect(isUuid('')).toBe(false);
    });

    it('§1.4 each(uuid): every element checked, empty elements pass, failures named by index', () => {
        const rule = each(uuid);
        expect(rule([UUID, ''])).toBeUndefined();
        expect(rule([])).toBeUndefined();
        expect(rule(null)).toBeUndefined();
        expect(rule([UUID, 'nope', 'X'])).toBe('(1: must be a valid UUID; 2: must be a valid UUID.)');
    });

    it('§1.4 name / §0.3 rule 3: required, 1 to 100 bytes (not characters)', () => {
        expect(name('')).toBe('cannot be blank');
        expect(name('a'.repeat(100))).toBeUndefined();
        expect(name('a'.repeat(101))).toBe('the length must be between 1 and 100');
        expect(name('é'.repeat(50))).toBeUndefined();
        expect(name('é'.repeat(51))).toBe('the length must be between 1 and 100');
        expect(byteLength('é')).toBe(2);
    });

    it('§1.4 length(a,b): bytes, empty values skipped, exact length message', () => {
        expect(length(64, 64)('')).toBeUndefined();
        expect(length(64, 64)('a')).toBe('the length must be exactly 64');
        expect(length(2, 3)('abcd')).toBe('the length must be between 2 and 3');
        expect(length(2, 3)(undefined)).toBeUndefined();
    });

    it('§1.4 hex: either case, empty skipped', () => {
        expect(hex('09afAF')).toBeUndefined();
        expect(hex('')).toBeUndefined();
        expect(hex('0g')).toBe('must be a valid hexadecimal number');
    });

    it('§1.4 in(set): the zero value is always accepted', () => {
        const rule = oneOf([8, 3, 4]);
        expect(rule(0)).toBeUndefined();
        expect(rule(8)).toBeUndefined();
        expect(rule(9)).toBe('must be a valid value');
    });

    it('§1.4 metadata / §0.3 rule 4: keys and values at most 100 bytes, empty allowed, missing map valid', () => {
        expect(metadata(undefined)).toBeUndefined();
        expect(metadata({})).toBeUndefined();
        expect(metadata({ '': '', a: 'b'.repeat(100), ['k'.repeat(100)]: 'v' })).toBeUndefined();
        expect(metadata({ a: 'b'.repeat(101) })).toContain('a: the length must be between 0 and 100');
        expect(metadata({ ['k'.repeat(101)]: 'v' })).toContain('key: the length must be between 0 and 100');
        expect(metadata({ é: 'é'.repeat(51) })).toBeDefined();
    });

    it('§1.4 request-url: empty allowed, absolute URI with a scheme required', () => {
        expect(requestUrl('')).toBeUndefined();
        expect(requestUrl('http://org-1.com')).toBeUndefined();
        expect(requestUrl('https://a.b:8000/x')).toBeUndefined();
        expect(requestUrl('org-1.com')).toBe('must be a valid request URL');
        expect(requestUrl('/path')).toBe('must be a valid request URL');
        expect(isRequestURL('mailto:someone')).toBe(true);
        expect(isRequestURL('http://a b')).toBe(false);
        expect(isRequestURL('http://x/%zz')).toBe(false);
        expect(isRequestURL(':x')).toBe(false);
        expect(isRequestURL('http://x/\u0001')).toBe(false);
        expect(isRequestURL('*')).toBe(false);
    });

    it('§1.4.1 Addressable rules 1-2: checksum required, 64 bytes, hex; storage_address required and url', () => {
        expect(addressable({ checksum: CHECKSUM, storage_address: 'http://backend/x' })).toBeUndefined();
        expect(addressable(null)).toBeUndefined();
        expect(addressable({ checksum: 'abc', storage_address: 'nope' })).toBe(
            '(checksum: the length must be exactly 64; storage_address: must be a valid URL.)',
        );
        expect(addressable({ checksum: 'g'.repeat(64), storage_address: 'http://backend/x' })).toBe(
            '(checksum: must be a valid hexadecimal number.)',
        );
    });

    it('§1.4.1 Addressable rule 3: a required, present but empty Addressable is rejected', () => {
        const failures = new Failures().field('description', {}, required, addressable);
        expect(failures.entries.get('description')).toBe(
            '(checksum: cannot be blank; storage_address: cannot be blank.)',
        );
        const absent = new Failures().field('description', null, required, addressable);
        expect(absent.entries.get('description')).toBe('cannot be blank');
    });

    it.each([
        'https://somewhere',
        'ftp://127.0.0.1/test',
        'http://localhost/x',
        'http://backend-org-1.com:8000/api/x/file/',
        'http://[::1]:8000/x',
        'somewhere.com',
        'localhost:8000/x',
        'http://user:pass@host.com/x?y=1#z',
        'wss://a.b',
        'http://192.168.0.1:80',
        'http://under_score.example.com/',
        'http://[fe80::1%25en0]:80/x',
    ])('§1.4.1 url (govalidator IsURL) example table: %s is valid', (value) => {
        expect(isURL(value)).toBe(true);
        expect(url(value)).toBeUndefined();
    });

    it.each([
        '0698796898',
        'test/storage/address',
        's3://bucket/key',
        'file:///tmp/x',
        'http://a b',
        '',
        'abc',
        '.somewhere.com',
        'http://.host.com',
        `http://a.com/${'x'.repeat(2100)}`,
        'http://host.com/%zz',
        'http://host%41.com',
        'http://ho^st.com',
        'http://[::1/x',
        'http://host.com:80a/x',
        'http://us er@host.com',
        'http://host.com/\t',
        ':8000/x',
        'a:b/c',
        'http://host.com/#%zz',
        'http://[fe80::1%41]:80/x',
    ])('§1.4.1 url (govalidator IsURL) rejects %s', (value) => {
        expect(isURL(value)).toBe(false);
    });

    it('§1.4.1 url: the empty string passes the rule alone (required rejects it)', () => {
        expect(url('')).toBeUndefined();
        expect(url('s3://bucket/key')).toBe('must be a valid URL');
    });

    it('§1.4.1 url: adversarial inputs are answered quickly (no exponential backtracking)', () => {
        const start = process.hrtime.bigint();
        for (const value of [
            `${'a'.repeat(2000)}!`,
            `${'a-'.repeat(1000)}!`,
            `${'a.'.repeat(1000)}!`,
            `${'a_'.repeat(1000)}!`,
            `${'1.'.repeat(1000)}!`,
            `http://${'a-a.'.repeat(500)}x y`,
        ]) {
            expect(isURL(value)).toBe(false);
        }
        expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(2000);
    });

    it('§1.5 rule 1: all fields are checked, first failing rule per field, fields sorted, OE0101 message', () => {
        const failures = new Failures()
            .field('name', '', name)
            .field('key', 'BAD', required, uuid)
            .field('key', '', required)
            .add('name', 'ignored, name already failed')
            .field('archive', 'ok', required);
        expect(failures.isEmpty).toBe(false);
        let error: unknown;
        try {
            failures.throwIfAny('function');
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(OrchestrationError);
        expect((error as Error).message).toBe(
            'OE0101: function is not valid: key: must be a valid UUID; name: cannot be blank.',
        );
    });

    it('§1.5 rule 1: no failure, no error', () => {
        const failures = new Failures().field('key', UUID, required, uuid);
        expect(failures.isEmpty).toBe(true);
        expect(() => {
            failures.throwIfAny('function');
        }).not.toThrow();
    });
});
