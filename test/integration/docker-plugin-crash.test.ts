// ecdock-docker-plugin killed (SIGKILL, by its own pid at a crash point) while dockerd plugs a
// container: mid-CreateEndpoint (nothing written yet), and right after Join returned (the slot is
// made and its veth named to dockerd, which moves it into the container). Whatever dockerd then
// does with the container, after the plugin's next start and the container's removal nothing is
// left: no slot row, no host-side veth, nothing in the staging namespace or in the plugin's own.
import { strict as assert } from 'node:assert';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { CrashPoint } from '../../src/crash-points';
import { listLinks } from '../../src/netlink/link';
import { Netns } from '../../src/netlink/netns';
import { VSwitch } from '../../src/vswitch';
import { ensureBusyboxImage, requireDocker } from '../support/docker';
import { PLUGIN_CRASH_MAIN, PluginFixture } from '../support/docker-plugin';
import { eventually, requireRoot, sh } from '../support/env';
import { STRANDED_GRACE_MS } from '../../src/docker-plugin/network-driver';

/** Link names in a namespace (the caller's when undefined); none when it does not exist. */
async function linkNames(path: string | undefined): Promise<string[]> {
  if (path && !existsSync(path)) return [];
  const ns = path ? Netns.open({ path }) : undefined;
  try {
    return (await listLinks(ns ? { netns: ns } : {})).map((l) => l.name);
  } finally {
    ns?.close();
  }
}

describe('ecdock-docker-plugin killed while dockerd plugs a container', function () {
  this.timeout(180_000);
  let f: PluginFixture;
  let vs: VSwitch;
  const b = randomInt(100, 250);
  const c = randomInt(0, 255);
  const at = (n: number): string => `10.${b}.${c}.${n}`;
  let net = '';

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    f = await PluginFixture.start('dockerovn');
    const vsName = `dovc${f.name.slice(-4)}`;
    const r = await f.createNetwork(['--subnet', `10.${b}.${c}.0/24`, '--gateway', at(254), '-o', 'ecdock.usermode=true', '-o', `ecdock.vswitch=${vsName}`]);
    assert.equal(r.code, 0, r.stderr + f.plugin!.log);
    net = r.name;
    vs = await VSwitch.open(await f.client(), vsName);
  });
  after(async () => {
    await f?.cleanup();
  });

  /** Nothing of the vswitch's slots anywhere: rows, host ends, staged container ends. */
  async function nothingLeft(): Promise<void> {
    assert.deepEqual(await vs.slots(), [], 'no slot row');
    assert.deepEqual((await linkNames(f.sb.netns)).filter((l) => l.startsWith(`${vs.name}-`)), [], 'no host-side veth');
    assert.deepEqual((await linkNames(f.staging)).filter((l) => l !== 'lo'), [], 'nothing in the staging namespace');
    assert.deepEqual((await linkNames(undefined)).filter((l) => /^ed[0-9a-f]{11}$/.test(l)), [], "no container end left in the plugin's namespace");
  }

  /** Arms the crash point, starts a container (in the background), and waits for the plugin to die there. */
  async function killAt(point: CrashPoint): Promise<{ name: string; run: Promise<{ code: number; stderr: string }> }> {
    await f.plugin!.stop('SIGTERM');
    const crashing = await f.startPlugin({ main: PLUGIN_CRASH_MAIN, env: { ECDOCK_TEST_CRASH_AT: point } });
    const name = `dockerovnc${f.name.slice(-6)}${point.length}`;
    f.containers.push(name);
    const run = f.docker(['run', '-d', '--name', name, '--network', net, 'ecdock-busybox:latest', 'sleep', '3600'], 120_000);
    assert.equal(await crashing.exited, -1, `killed at ${point}:\n${crashing.log}`);
    return { name, run };
  }

  it('killed mid-CreateEndpoint: the run fails with a sentence from the next plugin; after it and docker rm nothing is left; the next run gets slot 1', async () => {
    const { name, run } = await killAt('docker:endpoint-checked');
    const next = await f.startPlugin();
    const r = await run;
    // dockerd resends the call without its body: the new plugin refuses it with a sentence (and lives).
    assert.notEqual(r.code, 0, 'the run fails');
    assert.match(r.stderr, /CreateEndpoint came without its body|connection refused/, next.log);
    assert.equal(next.child.exitCode, null, next.log);
    assert.equal((await f.docker(['rm', '-f', name])).code === 0 || /No such container/.test((await f.docker(['inspect', name])).stderr), true);
    await nothingLeft();
    const again = await f.run(['--network', net]);
    assert.equal(again.code, 0, again.stderr + next.log);
    assert.equal((await vs.slot(1))?.state, 'up');
    await f.docker(['rm', '-f', again.name]);
    await nothingLeft();
  });

  it('killed right after Join returned (the veth in dockerd\'s hands): after the next start and docker rm nothing is left', async () => {
    const { name, run } = await killAt('docker:join-replied');
    // The slot is complete, its container end waits for dockerd in the plugin's namespace.
    const slot = await vs.slot(1);
    assert.ok(slot, 'the Join made slot 1 before the kill');
    const next = await f.startPlugin();
    const r = await run;
    // dockerd's resent ProgramExternalConnectivity reached the new plugin, which left the container
    // end to dockerd (joined moments ago): the container runs in slot 1, with traffic to the gateway.
    assert.equal(r.code, 0, r.stderr + next.log);
    assert.match(next.log, /waits for dockerd; checked again in \d+ s/);
    assert.equal((await vs.slot(1))?.state, 'up', next.log);
    assert.equal((await sh('docker', ['exec', name, 'ping', '-c', '1', '-W', '3', at(254)], { allowFail: true })).code, 0, next.log);
    assert.equal((await f.docker(['rm', '-f', name])).code, 0);
    await nothingLeft();
  });

  it('killed right after Join returned, the container removed while the plugin is down: the next start removes the slot', async function () {
    this.timeout(300_000);
    const { name, run } = await killAt('docker:join-replied');
    assert.ok(await vs.slot(1), 'the Join made slot 1 before the kill');
    await f.docker(['rm', '-f', name], 120_000);
    await run;
    const next = await f.startPlugin();
    // The container end never reached the container: removed once dockerd cannot take it any more
    // (a minute after the Join; dockerd's resends took most of it already).
    await eventually(() => nothingLeft().then(() => true), STRANDED_GRACE_MS + 10_000, 500).catch((e: Error) => assert.fail(`${e.message}\n${next.log}`));
    assert.match(next.log, /cleaned up dovc\w+-s01 \(join cut short\)/);
  });
});
