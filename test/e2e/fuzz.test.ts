import { defineFuzz } from '../support/fuzz-suite.ts';

// Rate limits off, so every request reaches its handler; plus the audit's scenarios.
// The seed is drawn per run and printed first; FUZZ_SEED=<n> replays one.
defineFuzz({ limitsOn: false });
