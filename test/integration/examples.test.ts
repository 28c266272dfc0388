// The examples are part of the documentation: they must run as written.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { requireRoot, sh } from '../support/env';

describe('examples', function () {
  this.timeout(60_000);
  before(function () {
    requireRoot(this);
  });

  it('orchestrator.ts attaches two namespaces, sees events, pings, detaches and cleans up', async () => {
    const r = await sh(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'orchestrator.js')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /slot 1: 10\.77\.0\.1 fd00:77::a4d:1 52:00:0a:4d:00:01 port orch0-s01 ofport 1/);
    assert.match(r.stdout, /slot 2: 10\.77\.0\.2 /);
    assert.match(r.stdout, /ping 10\.77\.0\.1 -> 10\.77\.0\.2: ok/);
    assert.match(r.stdout, /attach to a taken slot: SLOT_TAKEN/);
    assert.match(r.stdout, /event: attached slot 1/);
    assert.match(r.stdout, /event: detached slot 2/);
    const left = await sh('ip', ['netns', 'list']);
    assert.doesNotMatch(left.stdout, /orch-a|orch-b/);
  });
});
