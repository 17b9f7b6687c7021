import { defineFuzz } from '../support/fuzz-suite.ts';

// The same fuzz against a stack with the default rate limits on (its own file: the
// handlers run in this process and keep their clients, so one stack per file).
// RATE_LIMITED answers are expected and must be well-formed; nothing may be 5xx.
defineFuzz({ limitsOn: true });
