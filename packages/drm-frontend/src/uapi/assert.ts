/**
 * Compile-time checks that a documented interface and a layout's decoded value are the same type.
 *
 * @module
 */

/** `true` when `A` and `B` are mutually assignable (same fields, same field types), else `false`. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Fails to compile unless `T` is `true`. Use as `Check<Same<Value<typeof layout>, Interface>>`. */
export type Check<T extends true> = T;
