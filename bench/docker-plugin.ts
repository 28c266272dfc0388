// A container on a vswitch, from `docker run` until its slot answers a ping from the gateway,
// three ways side by side in one run: ecdock's Docker driver (`docker run --network NET`),
// `docker run --network none` then `ec plug --pid`, and `docker run --network none` then Open
// vSwitch's own `ovs-docker add-port` (run inside the sandbox's namespace, where its
// ovs-vswitchd is). Rounds alternate the three ways. Run as root after tsc:
//   node dist/bench/docker-plugin.js [--rounds N | --quick]
// Writes bench/results/docker-plugin.md. A benchmark, not a test: it asserts nothing.

import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsdbClient } from '../src/ovsdb/client';
import { OvsSandbox } from '../src/sandbox';
import { VSwitch } from '../src/vswitch';
import { ensureBusyboxImage } from '../src/runtime/busybox-image';
import { DockerRuntime } from '../src/runtime/docker';

const IMAGE = 'ecdock-busybox:latest';
const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = (roundsAt > 0 && Number(process.argv[roundsAt + 1])) || (process.argv.includes('--quick') ? 2 : 5);
const ROOT = path.join(__dirname, '..', '..');
const EC = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLUGIN = path.join(ROOT, 'dist', 'src', 'docker-plugin', 'main.js');

function run(file: string, args: string[], env?: NodeJS.ProcessEnv, allowFail = false): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err && !allowFail) reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(String(stdout));
    }),
  );
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Pings `ip` from the gateway's namespace until it answers; resolves when it does. */
async function firstPing(sbNetns: string, ip: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const out = await run('ip', ['netns', 'exec', sbNetns, 'ping', '-c1', '-W1', ip], undefined, true);
    if (/ 0% packet loss/.test(out)) return;
  }
  throw new Error(`${ip} never answered`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  await ensureBusyboxImage(new DockerRuntime(), IMAGE);
  const hasOvsDocker = (await run('sh', ['-c', 'command -v ovs-docker'], undefined, true)).trim();
  const sb = await OvsSandbox.start({ isolated: true });
  const sbName = path.basename(sb.netns!);
  const tag = randomBytes(3).toString('hex');
  const driver = `ecdkb${tag}`;
  const containers: string[] = [];
  const b = randomInt(100, 250);
  const subnets = [0, 1, 2].map((i) => ({ net: `10.${b}.${i * 10}.0/24`, at: (n: number) => `10.${b}.${i * 10}.${n}` }));
  const env = sb.env();
  const plugin = spawn(process.execPath, [PLUGIN, '--name', driver], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  plugin.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const netName = `ecdkbn${tag}`;
  const ovs = await OvsdbClient.connect(sb.dbUrl);
  const times: Record<'driver' | 'plug' | 'ovsDocker', number[]> = { driver: [], plug: [], ovsDocker: [] };
  try {
    for (let i = 0; i < 200 && !log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
    await run('docker', ['network', 'create', '-d', driver, '--subnet', subnets[0].net, '--gateway', subnets[0].at(254), '-o', 'ecdock.usermode=true', netName]);
    const plugVs = await VSwitch.create(ovs, { name: `ecbp${tag}`, subnet: `${subnets[1].at(254)}/24`, usermode: true, netns: sb.netns! });
    const odVs = await VSwitch.create(ovs, { name: `ecbo${tag}`, subnet: `${subnets[2].at(254)}/24`, usermode: true, netns: sb.netns! });

    for (let r = 1; r <= ROUNDS; r++) {
      const ways: (() => Promise<void>)[] = [
        async () => {
          const name = `ecdkb${tag}d${r}`;
          containers.push(name);
          const t0 = process.hrtime.bigint();
          await run('docker', ['run', '-d', '--name', name, '--network', netName, '--ip', subnets[0].at(r), IMAGE, 'sleep', '3600']);
          await firstPing(sbName, subnets[0].at(r));
          times.driver.push(ms(t0));
        },
        async () => {
          const name = `ecdkb${tag}p${r}`;
          containers.push(name);
          const t0 = process.hrtime.bigint();
          await run('docker', ['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sleep', '3600']);
          const pid = (await run('docker', ['inspect', '-f', '{{.State.Pid}}', name])).trim();
          await run(process.execPath, [EC, '--vswitch', plugVs.name, '--slot', String(r), '-q', 'plug', '--pid', pid], env);
          await firstPing(sbName, subnets[1].at(r));
          times.plug.push(ms(t0));
        },
        async () => {
          if (!hasOvsDocker) return;
          const name = `ecdkb${tag}o${r}`;
          containers.push(name);
          const t0 = process.hrtime.bigint();
          await run('docker', ['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sleep', '3600']);
          const a = odVs.addressOf(r);
          await run('ip', ['netns', 'exec', sbName, 'ovs-docker', 'add-port', odVs.name, 'eth0', name, `--ipaddress=${a.ipv4}/24`, `--gateway=${a.gateway}`, `--macaddress=${a.mac}`], env);
          await firstPing(sbName, subnets[2].at(r));
          times.ovsDocker.push(ms(t0));
        },
      ];
      // Rotate who goes first, so that no way always runs on a warm (or cold) dockerd.
      for (let k = 0; k < ways.length; k++) await ways[(k + r) % ways.length]();
    }
  } finally {
    if (containers.length) await run('docker', ['rm', '-f', ...containers], undefined, true);
    await run('docker', ['network', 'rm', netName], undefined, true);
    plugin.kill('SIGTERM');
    await new Promise((r) => plugin.once('exit', r));
    await run('ip', ['netns', 'del', `ecdock-docker-${driver}`], undefined, true);
    ovs.close();
    await sb.stop();
  }

  // The plugin's own share: from Docker's CreateEndpoint to the end of its Join, from its log.
  const seen = new Map<string, number>();
  const pluginMs: number[] = [];
  for (const m of log.matchAll(/ (\S+Z) endpoint (\w+): (slot \d+ of|joined)/g)) {
    const t = Date.parse(m[1]);
    if (m[3] !== 'joined') seen.set(m[2], t);
    else if (seen.has(m[2])) pluginMs.push(t - seen.get(m[2])!);
  }
  const fmt = (xs: number[]): string => (xs.length ? `${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})` : 'not run');
  const md = `# Docker: from \`docker run\` to the first ping, three ways

Private OVS (ovsdb-server + ovs-vswitchd, userspace datapath, isolated netns), the system dockerd
(${(await run('docker', ['version', '--format', '{{.Server.Version}}'])).trim()}), a busybox image, ${ROUNDS} rounds; each round starts one container each way
(the order rotates), and times from \`docker run\` until the container's slot answers one ICMP echo
sent from the vswitch's namespace (a ping process retried until it answers).

- **driver**: \`docker run --network NET --ip …\` with NET made by \`docker network create -d ecdock\`
  (ecdock-docker-plugin): Docker calls the plugin, which makes the slot while the container starts.
- **ec plug**: \`docker run --network none\`, then \`ec plug --pid PID --slot N\` (one \`ec\` process).
- **ovs-docker**: \`docker run --network none\`, then Open vSwitch's \`ovs-docker add-port BR eth0 C
  --ipaddress --gateway --macaddress\` (${hasOvsDocker || 'not installed'}; run under \`ip netns exec\` in the
  sandbox's namespace, since its veth host end must be where ovs-vswitchd is).

| way | median (each round) | vs driver |
|---|---:|---:|
| driver | ${fmt(times.driver)} | 1.00× |
| docker run --network none + ec plug | ${fmt(times.plug)} | ${(median(times.plug) / median(times.driver)).toFixed(2)}× |
| docker run --network none + ovs-docker add-port | ${fmt(times.ovsDocker)} | ${times.ovsDocker.length ? (median(times.ovsDocker) / median(times.driver)).toFixed(2) + '×' : '-'} |

Of the driver's time, the plugin's own part (dockerd's CreateEndpoint until the plugin has answered
Join: slot checked, claimed, veth made and handed over), from the plugin's log: ${fmt(pluginMs)}.
The rest is dockerd and runc starting the container.

Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, kernel ${os.release()};
load average ${os.loadavg()[0].toFixed(2)} at the end (other engineers' suites share the machine).
Reproduce: \`npx tsc -p . && sudo node dist/bench/docker-plugin.js\`.
`;
  const out = path.join(ROOT, 'bench', 'results', 'docker-plugin.md');
  await fs.writeFile(out, md);
  process.stdout.write(md);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
