/**
 * Message types as the contract layer hands them to services.
 *
 * protobufjs' `orchestrator.I*` interfaces make every field optional and nullable, but a request decoded by
 * the generated `decode` (or `fromObject`) is complete: strings, numbers (int64 too, generated with
 * --force-number), booleans, enums and bytes hold their default value when absent, repeated fields are `[]`,
 * maps `{}` (the contract layer also fills map values that are messages). Only a sub-message field may be
 * `null`. `Complete<I>` says exactly that, recursively:
 *
 * - scalar, enum, string and bytes fields: required, non-null;
 * - repeated fields: required arrays of complete elements;
 * - map fields (the generated `{ [k: string]: V }`, told apart from a sub-message by its string index
 *   signature): required records of complete values;
 * - sub-message fields: required key, `Complete<M> | null`.
 *
 * The generated classes (`orchestrator.X`) type their nested fields as `I*`, so a decoded class is not
 * assignable as such: the contract layer, which decodes, asserts the type.
 */
export type Complete<T> = { -readonly [K in keyof T]-?: CompleteField<NonNullable<T[K]>> };

/** Leaves of a message: what needs no recursion. */
type Scalar = string | number | boolean | bigint | Uint8Array;

type CompleteField<V> = V extends Scalar
    ? V
    : V extends readonly (infer E)[]
      ? CompleteValue<E>[]
      : string extends keyof V
        ? { [k: string]: CompleteValue<V[string & keyof V]> }
        : Complete<V> | null;

/** An element of a repeated field or a map value: never null once decoded. */
type CompleteValue<E> = E extends Scalar ? E : Complete<NonNullable<E>>;
