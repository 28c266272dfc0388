// ec's output pieces without root or OVS: tables, JSON errors, exit codes per error kind, the
// progress bar's silence off a terminal, shell quoting of sandbox exports, slot rows.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { ERROR_CODES, EcdockError, UsageError } from '../../src/errors';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes';
import { Output, formatTable } from '../../src/cli/output';
import { exportLines } from '../../src/cli/commands/sandbox';
import { hostText, slotLine, slotRow, targetText } from '../../src/cli/slot-view';
import type { SlotInfo } from '../../src/slot';

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const slot: SlotInfo = {
  slot: 1,
  ipv4: '10.0.0.1',
  prefixLength: 24,
  mac: '52:00:0a:00:00:01',
  mac2: '52:80:0a:00:00:01',
  gateway: '10.0.0.254',
  broadcast: '10.0.0.255',
  portName: 'ovs0-s01',
  vswitch: 'ovs0',
  index: 1,
  portType: 'veth',
  ifname: 'eth0',
  state: 'up',
  target: { kind: 'container', ref: 'a'.repeat(64), name: 'ovs0-s01', netnsId: '4:1' },
  externalIds: {},
};

describe('ec output', () => {
  it('formats a table with padded columns and - for empty cells', () => {
    const t = formatTable(['SLOT', 'IP', 'STATE'], [
      { SLOT: 1, IP: '10.0.0.1', STATE: 'up' },
      { SLOT: 12, IP: undefined, STATE: 'ghost' },
    ]);
    assert.equal(t, 'SLOT  IP        STATE\n1     10.0.0.1  up\n12    -         ghost\n');
  });

  it('maps every error kind to its own exit code, and non-ecdock errors to 70', () => {
    const seen = new Map<number, string>();
    for (const [code, kind] of Object.entries(ERROR_CODES)) {
      const exit = exitCodeFor(new EcdockError(code as keyof typeof ERROR_CODES, 'x'));
      assert.equal(exit, EXIT[kind]);
      const other = seen.get(exit);
      assert.ok(other === undefined || other === kind, `${kind} and ${other} share exit ${exit}`);
      seen.set(exit, kind);
    }
    assert.equal(exitCodeFor(new Error('bug')), 70);
    assert.deepEqual([EXIT.usage, EXIT.conflict, EXIT['not-found'], EXIT.unavailable, EXIT.failed, EXIT.protocol, EXIT.internal], [2, 3, 4, 5, 6, 7, 70]);
  });

  it('prints errors as one line on stderr, or as JSON on stdout with --json', () => {
    const out = new Sink();
    const err = new Sink();
    new Output({ stdout: out, stderr: err }).error(new UsageError('SLOT_OUT_OF_RANGE', 'slot 0 is not in 1..254'));
    assert.equal(err.text, 'ec: slot 0 is not in 1..254 (code SLOT_OUT_OF_RANGE)\n');
    assert.equal(out.text, '');
    const jout = new Sink();
    const jerr = new Sink();
    new Output({ json: true, stdout: jout, stderr: jerr }).error(new UsageError('SLOT_OUT_OF_RANGE', 'slot 0 is not in 1..254'));
    assert.deepEqual(JSON.parse(jout.text), { error: { code: 'SLOT_OUT_OF_RANGE', message: 'slot 0 is not in 1..254', kind: 'usage' } });
    assert.equal(jerr.text, '');
  });

  it('-q silences notes and results, except results that are the point (list)', () => {
    const out = new Sink();
    const err = new Sink();
    const o = new Output({ quiet: true, stdout: out, stderr: err });
    o.note('starting...');
    o.result('started', { ok: true });
    o.result('SLOT ...', [], { always: true });
    assert.equal(err.text, '');
    assert.equal(out.text, 'SLOT ...\n');
  });

  it('draws no progress bar when stdout is not a terminal', () => {
    const out = new Sink();
    const bar = new Output({ stdout: out, stderr: new Sink() }).progress(100, 'work');
    for (let i = 0; i < 100; i++) bar.tick();
    bar.finish();
    assert.equal(out.text, '');
    const tty = new Sink();
    tty.isTTY = true;
    const shown = new Output({ stdout: tty, stderr: new Sink() }).progress(20, 'cleaning up');
    shown.tick(20);
    shown.finish();
    assert.match(tty.text, /\[#{30}\] 20\/20/);
  });

  it('quotes sandbox exports for any POSIX shell', () => {
    assert.equal(exportLines({ ECDOCK_DB: 'unix:/run/x/db.sock', ODD: "it's" }), "export ECDOCK_DB='unix:/run/x/db.sock'\nexport ODD='it'\\''s'");
  });

  it('shows a slot as a list row and a one-line summary', () => {
    assert.equal(targetText(slot), 'ovs0-s01');
    assert.equal(targetText({ ...slot, target: { kind: 'pid', ref: '42', netnsId: '' } }), 'pid 42');
    const row = slotRow({ ...slot, nic2: { portName: 'ovs0-o01', ifname: 'eth1', mac: '52:80:0a:00:00:01' } });
    assert.deepEqual(row, {
      VSWITCH: 'ovs0',
      HOST: '-',
      SLOT: 1,
      IP: '10.0.0.1',
      MAC: '52:00:0a:00:00:01 52:80:0a:00:00:01',
      PORT: 'ovs0-s01 ovs0-o01',
      TYPE: 'veth+nic2',
      TARGET: 'ovs0-s01',
      STATE: 'up',
    });
    assert.equal(hostText({ ...slot, host: 'hv2' }, 'hv1'), 'hv2');
    assert.equal(slotRow({ ...slot, host: 'hv1' }, 'hv1').HOST, 'hv1 (here)');
    assert.equal(slotLine(slot), 'slot 1 of ovs0: eth0 10.0.0.1/24 52:00:0a:00:00:01 port ovs0-s01 (veth), gateway 10.0.0.254 -> ovs0-s01, up');
  });
});
