// The one place in ecdock that starts processes: private Open vSwitch (ovs.ts, ovs-cluster.ts) and
// private OVN (ovn.ts) for tests, demos and CI, all through tools.ts runTool. Every daemon is
// tracked by the pid in its pidfile and stopped by that pid (pids.ts).
export { OvsSandbox, DEFAULT_SCHEMA } from './ovs';
export { OvsCluster } from './ovs-cluster';
export { runTool, freePort } from './tools';
export { pidAlive, stopPid } from './pids';
export { ScratchNetns } from './scratch-netns';
export type { OvsSandboxOptions } from './ovs';
export type { OvsClusterOptions } from './ovs-cluster';
export { OvnSandbox } from './ovn';
export type { OvnSandboxOptions, OvnHost } from './ovn';
