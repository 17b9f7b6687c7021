/** The clock and the pause, once for every layer (tests may still pass their own `now`). */

/** Now, as the ISO-8601 string every record and event carries. */
export const nowIso = () => new Date().toISOString();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Now, in epoch milliseconds (deadlines, TTLs, mute and expiry checks). */
export const nowMs = () => Date.now();

/** Now, as a Date (the default of the `now` parameters tests may pass). */
export const nowDate = () => new Date();
