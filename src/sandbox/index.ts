// The one place in ecdock that starts processes: private Open vSwitch (ovs.ts) and private OVN
// (ovn.ts) for tests, demos and CI. Every daemon is tracked by the pid in its pidfile and stopped
// by that pid.
export { OvsSandbox, OvsCluster, runTool, pidAlive, stopPid, freePort, DEFAULT_SCHEMA } from './ovs';
export { ScratchNetns } from './scratch-netns';
export type { OvsSandboxOptions, OvsClusterOptions } from './ovs';
export { OvnSandbox } from './ovn';
export type { OvnSandboxOptions, OvnHost } from './ovn';
