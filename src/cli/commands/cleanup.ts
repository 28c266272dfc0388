// ec cleanup: removes what dead containers and namespaces left behind, and only ecdock's own:
// ghost ports (target gone), slots of stopped containers, veths no port uses, and exited or dead
// containers labelled for the vswitch. ecDock's cleanup removed exited containers but never their
// ports; pipework and ovs-docker never remove a stale port at all.
import { Command } from 'commander';
import { RuntimeError, isEcdockError } from '../../errors';
import { VSwitch, type CleanupReport } from '../../vswitch';
import { action } from '../action';
import { addGlobalOptions } from '../context';
import { printCleanupPlan } from '../cleanup-plan';
import { labelledContainers } from '../../in-slot';
import { formatTable } from '../output';

interface Removed {
  ports: (CleanupReport['ports'][number] & { vswitch: string })[];
  links: { vswitch: string; name: string }[];
  containers: { vswitch: string; id: string; name: string; state: string }[];
  /** What was put right rather than removed (gateway, static MACs, re-plugged internal slots). */
  repaired: (CleanupReport['repaired'][number] & { vswitch: string })[];
  /** The library's gateway verdict per vswitch: ok, repaired, or missing (ovs-vswitchd down). */
  gateways: { vswitch: string; gateway: CleanupReport['gateway'] }[];
}

export function cleanupCommand(): Command {
  const cmd = new Command('cleanup')
    .summary('remove ghost ports, dead namespaces\' links and exited containers')
    .description(
      'Remove what is left of dead slots on the vswitch (or on all with --all): ports whose namespace or\n' +
        'container is gone, slots of stopped containers, slot veths no port uses, and exited or dead\n' +
        'containers labelled for the vswitch. Ports and containers ecdock did not create are never touched.\n' +
        'Also puts back what a restarted ovs-vswitchd forgot: the gateway address, static MAC entries, and\n' +
        'internal-port slots (plugged into their target again with the same MAC, addresses and routes).\n' +
        'With --all, also removes slot links of vswitches deleted behind ecdock\'s back (ovs-vsctl del-br).',
    )
    .option('-a, --all', 'every vswitch on this OVS')
    .option('--keep-containers', 'free the slots of stopped containers but do not remove the containers')
    .option('--dry-run', 'list what would be removed, and change nothing');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ all?: boolean; keepContainers?: boolean; dryRun?: boolean }>(async (ctx, _args, opts) => {
      const ovs = await ctx.ovs();
      const docker = ctx.docker();
      const switches = opts.all ? await VSwitch.list(ovs, { runtime: docker }) : [await ctx.vswitch()];
      // Whether a container slot is dead can only be told by dockerd: without it, remove nothing.
      let dockerUp = true;
      try {
        await docker.ping();
      } catch (e) {
        if (!isEcdockError(e, 'DOCKER_UNREACHABLE') && !isEcdockError(e, 'PERMISSION_DENIED')) throw e;
        dockerUp = false;
        for (const vs of switches) {
          if ((await vs.slots()).some((s) => s.target?.kind === 'container')) {
            throw new RuntimeError('DOCKER_UNREACHABLE', `${e.message}; cleanup needs dockerd to tell dead container slots from live ones, so it removed nothing`, {
              cause: e,
            });
          }
        }
      }
      const doomed = new Map<string, Awaited<ReturnType<typeof labelledContainers>>>();
      if (dockerUp && !opts.keepContainers) {
        for (const vs of switches) doomed.set(vs.name, (await labelledContainers(vs, { runtime: docker })).filter((c) => c.state === 'exited' || c.state === 'dead'));
      }
      if (opts.dryRun) return printCleanupPlan(ctx, switches, docker, dockerUp, doomed);
      const total = switches.length + [...doomed.values()].reduce((a, l) => a + l.length, 0);
      const bar = ctx.out.progress(total, 'cleaning up', { minItems: 10 });
      const removed: Removed = { ports: [], links: [], containers: [], repaired: [], gateways: [] };
      try {
        for (const vs of switches) {
          bar.tick(0, `ports of ${vs.name}`);
          if (dockerUp) {
            // A dead container's veth can outlive it for a while (the kernel tears namespaces down
            // lazily), and while it does the slot still looks up: ask dockerd instead.
            for (const s of await vs.slots()) {
              const t = s.target;
              if (t?.kind !== 'container') continue;
              const c = await docker.inspect(t.ref);
              if (c?.running) continue;
              try {
                await vs.detach(s.index);
              } catch (e) {
                if (isEcdockError(e, 'NO_SUCH_SLOT')) continue;
                throw e;
              }
              removed.ports.push({ vswitch: vs.name, slot: s.index, portName: s.portName, reason: c ? 'container-stopped' : 'target-gone' });
              if (s.info.nic2) removed.ports.push({ vswitch: vs.name, slot: s.index, portName: s.info.nic2.portName, reason: c ? 'container-stopped' : 'target-gone' });
            }
          }
          const r = await vs.cleanup({ stoppedContainers: dockerUp });
          removed.ports.push(...r.ports.map((p) => ({ vswitch: vs.name, ...p })));
          removed.links.push(...r.links.map((name) => ({ vswitch: vs.name, name })));
          removed.repaired.push(...r.repaired.map((x) => ({ vswitch: vs.name, ...x })));
          removed.gateways.push({ vswitch: vs.name, gateway: r.gateway });
          bar.tick(1);
          for (const c of doomed.get(vs.name) ?? []) {
            bar.tick(0, `container ${c.name}`);
            try {
              if (await docker.remove(c.id)) removed.containers.push({ vswitch: vs.name, id: c.id, name: c.name, state: c.state });
            } catch (e) {
              // Started again meanwhile, or dockerd refused: it is not garbage then; go on.
              ctx.out.note(`kept container ${c.name}: ${(e as Error).message}`);
            }
            bar.tick(1);
          }
        }
        if (opts.all) {
          const orphans = await VSwitch.cleanupOrphans(ovs, { runtime: docker, namespaces: [ctx.netns, undefined, ...switches.map((vs) => vs.netns)] });
          removed.links.push(...orphans.map((name) => ({ vswitch: '-', name })));
        }
      } finally {
        bar.finish();
      }
      ctx.out.result(() => {
        const rows = [
          ...removed.ports.map((p) => ({ WHAT: 'port', VSWITCH: p.vswitch, NAME: p.portName, WHY: p.reason })),
          ...removed.links.map((l) => ({ WHAT: 'link', VSWITCH: l.vswitch, NAME: l.name, WHY: 'no port' })),
          ...removed.containers.map((c) => ({ WHAT: 'container', VSWITCH: c.vswitch, NAME: c.name, WHY: c.state })),
          ...removed.repaired.map((r) => ({ WHAT: `repaired ${r.what}`, VSWITCH: r.vswitch, NAME: r.portName ?? '-', WHY: r.detail ?? '' })),
        ];
        const down = removed.gateways.filter((g) => g.gateway === 'missing').map((g) => g.vswitch);
        const note = down.length ? `\nthe bridge device of ${down.join(', ')} is missing: is ovs-vswitchd running?` : '';
        if (!rows.length) return `nothing to clean up on ${switches.map((s) => s.name).join(', ') || 'this OVS'}${note}`;
        return (
          formatTable(['WHAT', 'VSWITCH', 'NAME', 'WHY'], rows) +
          `removed ${removed.ports.length} port(s), ${removed.links.length} link(s), ${removed.containers.length} container(s); repaired ${removed.repaired.length} thing(s)${note}`
        );
      }, removed);
    }),
  );
}
