// Issue 6, hostile peers, fuzz part (bounded for CI: each property stops at its run count or its
// time budget, whichever comes first; scripts/reliability/fuzz.ts runs the same properties longer).
// See test/support/hostile-fuzz.ts for what each property asserts.
import fc from 'fast-check';
import { classifyProperty, framerProperty, netlinkProperty, replicaProperty, sessionProperty } from '../support/hostile-fuzz';

const BUDGET_MS = Number(process.env.ECDOCK_FUZZ_MS ?? 3000);

describe('hardening: fuzz (random bytes into every parser a peer can reach)', function () {
  this.timeout(BUDGET_MS * 3 + 10_000);

  it('OVSDB framer: random bytes in random chunks', () => {
    fc.assert(framerProperty(), { numRuns: 3000, interruptAfterTimeLimit: BUDGET_MS });
  });

  it('JSON-RPC classify: any JSON value', () => {
    fc.assert(classifyProperty(), { numRuns: 5000, interruptAfterTimeLimit: BUDGET_MS });
  });

  it('OVSDB session: hostile replies, notifications, garbage and truncation, then close', async () => {
    await fc.assert(sessionProperty(), { numRuns: 1000, interruptAfterTimeLimit: BUDGET_MS });
  });

  it('monitor replica: hostile update, update2 and full resyncs', () => {
    fc.assert(replicaProperty(), { numRuns: 3000, interruptAfterTimeLimit: BUDGET_MS });
  });

  it('rtnetlink decoders and reply collection: structured and raw garbage', () => {
    fc.assert(netlinkProperty(), { numRuns: 5000, interruptAfterTimeLimit: BUDGET_MS });
  });
});
