// How an orchestrator embeds ecdock: connect to OVS, make (or open) a vswitch, plug namespaces
// into slots, follow slot events, and take them out again.
//
//   sudo node dist/examples/orchestrator.js              # uses a private OVS sandbox it starts itself
//   sudo ECDOCK_DB=unix:/var/run/openvswitch/db.sock node dist/examples/orchestrator.js   # a real OVS
//
// An orchestrator already has its containers' namespaces; this example makes two with `ip netns`
// (the example may spawn; the library never does).
import { execFileSync } from 'node:child_process';
import { OvsSandbox, OvsdbClient, VSwitch, isEcdockError, type SlotEvent } from '../src';

async function main(): Promise<void> {
  // 1. Where OVS is. Without ECDOCK_DB, start a private one (userspace datapath, its own netns).
  const sb = process.env.ECDOCK_DB ? undefined : await OvsSandbox.start({ isolated: true });
  const ovs = await OvsdbClient.connect(sb?.dbUrl);
  const namespaces = ['orch-a', 'orch-b'];
  try {
    // 2. A vswitch: bridge + addressing plan. Creating it again with the same plan is a no-op.
    const vs = await VSwitch.create(ovs, {
      name: 'orch0',
      subnet: '10.77.0.254/24',
      ipv6Prefix: 'fd00:77::/64',
      usermode: true, // no openvswitch kernel module needed
      netns: sb?.netns, // where that OVS's ovs-vswitchd runs
    });
    console.log(`vswitch ${vs.name}: ${vs.plan.subnet}, gateway ${vs.plan.gateway}`);

    // 3. Follow slot events while we work.
    const events: SlotEvent[] = [];
    const watching = (async () => {
      for await (const ev of vs.watch()) {
        events.push(ev);
        console.log(`  event: ${ev.type} slot ${ev.slot}`);
        if (ev.type === 'detached' && events.filter((e) => e.type === 'detached').length === namespaces.length) break;
      }
    })();

    // 4. Plug two namespaces in; slots are picked (lowest free) and claimed atomically.
    for (const ns of namespaces) execFileSync('ip', ['netns', 'add', ns]);
    const slots = await Promise.all(namespaces.map((ns) => vs.attach({ target: { netns: `/var/run/netns/${ns}` } })));
    for (const s of slots) console.log(`slot ${s.index}: ${s.ipv4} ${s.ipv6} ${s.mac} port ${s.portName} ofport ${s.ofport}`);

    // 5. They reach each other through OVS.
    const ok = execFileSync('ip', ['netns', 'exec', namespaces[0], 'ping', '-c1', '-W2', slots[1].ipv4]).toString().includes(' 0% packet loss');
    console.log(`ping ${slots[0].ipv4} -> ${slots[1].ipv4}: ${ok ? 'ok' : 'FAILED'}`);

    // 6. Bad requests are typed errors with stable codes, and change nothing.
    try {
      await vs.attach({ slot: slots[0].index, target: { netns: `/var/run/netns/${namespaces[1]}` } });
    } catch (e) {
      if (isEcdockError(e)) console.log(`attach to a taken slot: ${e.code}`);
    }

    // 7. Inventory, then take the slots out.
    for (const s of await vs.slots()) console.log(`  ${s.portName} ${s.state}`);
    for (const s of slots) await s.detach();
    await watching;
    await vs.destroy();
    if (!ok) process.exitCode = 1;
  } finally {
    for (const ns of namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* not created */
      }
    }
    ovs.close();
    await sb?.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
