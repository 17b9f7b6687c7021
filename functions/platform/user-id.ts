/**
 * A user id the table can hold: 1–128 characters without `#` (the key
 * separator: `USER#a#INBOX` must not be forgeable) or whitespace, and not
 * `__proto__`, which the SDK's marshaller cannot keep as a map key (a member map
 * would silently lose it), and well-formed Unicode. Every other name, `constructor` included, is a plain
 * id. Token subjects (auth.ts) and ids in requests (domain/schemas.ts) share it.
 */
export function isStorableUserId(id: string): boolean {
  return (
    id.length >= 1 &&
    id.length <= 128 &&
    /^[^#\s]+$/.test(id) &&
    id !== '__proto__' &&
    // A lone surrogate is no UTF-8: DynamoDB refuses the write (the fuzz suite found a 500).
    !/\p{Cs}/u.test(id)
  );
}
