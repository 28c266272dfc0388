// The CNI_* environment of one plugin call, validated (pure: takes the env as an argument).
// What each command needs follows the spec: ADD and CHECK need the container id, the netns and the
// interface name; DEL needs the id and the interface name (the netns may already be gone); GC and
// STATUS need none of them; VERSION looks at nothing.

import { CNI_CODE, CniError } from './cni-error';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

export interface CniArgs {
  ip?: string;
  mac?: string;
  podName?: string;
  podNamespace?: string;
}

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  /** Empty on DEL when the runtime no longer has a namespace. */
  netns: string;
  ifname: string;
  args: CniArgs;
}

// The spec's rule for container ids, and Linux's for interface names.
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const IFNAME_RE = /^[^\s/:]{1,15}$/;

const KNOWN_ARGS = new Set(['IgnoreUnknown', 'IP', 'MAC', 'K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);

function bad(msg: string, detail?: unknown): CniError {
  return new CniError(CNI_CODE.INVALID_ENV, msg, 'BAD_ARGUMENT', detail);
}

/** CNI_ARGS: `K=V;K2=V2`. Unknown keys are refused unless IgnoreUnknown=1|true, as the reference plugins do. */
export function parseCniArgs(raw: string | undefined): CniArgs {
  if (!raw) return {};
  const pairs = new Map<string, string>();
  for (const part of raw.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw bad(`CNI_ARGS has "${part}", which is not KEY=VALUE; give CNI_ARGS as KEY=VALUE pairs separated by ";"`, { CNI_ARGS: raw });
    pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const ignoreUnknown = /^(1|true)$/i.test(pairs.get('IgnoreUnknown') ?? '');
  if (!ignoreUnknown) {
    const unknown = [...pairs.keys()].filter((k) => !KNOWN_ARGS.has(k));
    if (unknown.length) throw bad(`CNI_ARGS has keys this plugin does not know (${unknown.join(', ')}); remove them or add IgnoreUnknown=1`, { unknown });
  }
  const out: CniArgs = {};
  const ip = pairs.get('IP');
  if (ip) out.ip = ip;
  const mac = pairs.get('MAC');
  if (mac) out.mac = mac;
  const podName = pairs.get('K8S_POD_NAME');
  if (podName) out.podName = podName;
  const podNamespace = pairs.get('K8S_POD_NAMESPACE');
  if (podNamespace) out.podNamespace = podNamespace;
  return out;
}

export function parseCommand(env: NodeJS.ProcessEnv): CniCommand {
  const c = env.CNI_COMMAND;
  if (!c) throw bad('CNI_COMMAND is not set; a CNI runtime sets it to ADD, DEL, CHECK, VERSION, GC or STATUS');
  if (!(COMMANDS as readonly string[]).includes(c)) throw bad(`CNI_COMMAND "${c}" is not one of ${COMMANDS.join(', ')}`, { CNI_COMMAND: c });
  return c as CniCommand;
}

/** The rest of the environment, checked for what `command` needs. */
export function parseEnv(env: NodeJS.ProcessEnv, command: CniCommand): CniEnv {
  const per = command === 'ADD' || command === 'CHECK' || command === 'DEL';
  const containerId = env.CNI_CONTAINERID ?? '';
  const netns = env.CNI_NETNS ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  if (per) {
    if (!containerId) throw bad(`CNI_CONTAINERID is not set; ${command} needs the container's id`);
    if (!CONTAINER_ID_RE.test(containerId)) throw bad(`CNI_CONTAINERID "${containerId}" is not a valid container id (letters, digits, "_", "." and "-", starting with a letter or digit)`, { CNI_CONTAINERID: containerId });
    if (!ifname) throw bad(`CNI_IFNAME is not set; ${command} needs the interface name to create inside the container`);
    if (!IFNAME_RE.test(ifname) || ifname === '.' || ifname === '..') throw bad(`CNI_IFNAME "${ifname}" is not a valid interface name (1 to 15 characters, no "/", ":" or spaces)`, { CNI_IFNAME: ifname });
    if (command !== 'DEL') {
      if (!netns) throw bad(`CNI_NETNS is not set; ${command} needs the path of the container's network namespace`);
      if (!netns.startsWith('/')) throw bad(`CNI_NETNS "${netns}" is not an absolute path to a network namespace`, { CNI_NETNS: netns });
    }
    if (!env.CNI_PATH) throw bad(`CNI_PATH is not set; ${command} needs the plugin search path`);
  }
  return { command, containerId, netns, ifname, args: parseCniArgs(env.CNI_ARGS) };
}
