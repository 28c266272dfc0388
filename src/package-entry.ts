// What `require('ecdock')` and `import ... from 'ecdock'` run (package.json "main"): the same
// values as src/index.ts, whose declarations are the package's types and API reference, but each
// module loaded the first time one of its exports is read. Loading everything up front cost
// about 130 ms on every `require` (the OVSDB client, rtnetlink, the Docker client, the sandbox),
// paid by every CNI call and every script that uses one function. Nothing here opens a
// connection or loads the addon; reading `VSwitch` loads the model, and so on.
//
// One line per module that src/index.ts exports values from; test/unit/package-entry.test.ts
// fails when the two disagree (a value exported there and not here, or a different object).

/* eslint-disable @typescript-eslint/no-require-imports */
const MODULES: [load: () => Record<string, unknown>, names: readonly string[]][] = [
  [
    () => require('./errors') as Record<string, unknown>,
    ['EcdockError', 'UsageError', 'OvsdbError', 'NetlinkError', 'VSwitchError', 'RuntimeError', 'SandboxError', 'ERROR_CODES', 'isEcdockError'],
  ],
  [() => require('./vswitch') as Record<string, unknown>, ['VSwitch']],
  [() => require('./slot') as Record<string, unknown>, ['Slot']],
  [() => require('./follow') as Record<string, unknown>, ['ContainerFollower']],
  [
    () => require('./in-slot') as Record<string, unknown>,
    [
      'startInSlot',
      'stopInSlot',
      'restartInSlot',
      'containerOfSlot',
      'labelledContainers',
      'slotHeldBy',
      'CONTAINER_LABELS',
      'containerLabels',
      'labelsMatch',
      'slotPluggedInto',
    ],
  ],
  [() => require('./addressing') as Record<string, unknown>, ['AddressPlan', 'macFromIpv4', 'slotPortName']],
  [
    () => require('./ovsdb') as Record<string, unknown>,
    [
      'OvsdbClient',
      'Monitor',
      'TransactionBatcher',
      'OvsdbTransactionError',
      'op',
      'ops',
      'cond',
      'mut',
      'decodeRows',
      'insertedUuid',
      'checkSchema',
      'openVswitchSchema',
      'ovnNorthboundSchema',
      'ovnSouthboundSchema',
      'generateTypes',
    ],
  ],
  [
    () => require('./netlink') as Record<string, unknown>,
    [
      'Netns',
      'createVeth',
      'createVeths',
      'configureInterface',
      'getLink',
      'listLinks',
      'setLink',
      'moveLink',
      'deleteLink',
      'deleteLinks',
      'deleteLinkGroup',
      'listAddresses',
      'listRoutes',
      'setNeighbors',
    ],
  ],
  [() => require('./runtime') as Record<string, unknown>, ['DockerRuntime', 'ContainerEvents']],
  [() => require('./sandbox') as Record<string, unknown>, ['OvsSandbox', 'OvsCluster', 'ScratchNetns', 'OvnSandbox']],
];
/* eslint-enable @typescript-eslint/no-require-imports */

Object.defineProperty(exports, '__esModule', { value: true });
for (const [load, names] of MODULES) {
  for (const name of names) {
    // A getter (not a copied value), like the re-exports tsc writes, so that a module that is
    // loaded later or a binding that changes is seen as it is; `load` is require, cached by Node.
    Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });
  }
}

// Node's ESM loader finds a CommonJS module's export names by reading its text, not by running
// it; this line, never run, names them for `import { VSwitch } from 'ecdock'` in an .mjs file.
/* eslint-disable @typescript-eslint/no-unused-expressions, @typescript-eslint/no-unsafe-assignment, no-constant-binary-expression */
0 && (module.exports = {
  EcdockError: exports, UsageError: exports, OvsdbError: exports, NetlinkError: exports,
  VSwitchError: exports, RuntimeError: exports, SandboxError: exports, ERROR_CODES: exports,
  isEcdockError: exports, VSwitch: exports, Slot: exports, ContainerFollower: exports, startInSlot: exports,
  stopInSlot: exports, restartInSlot: exports, containerOfSlot: exports, labelledContainers: exports,
  slotHeldBy: exports, CONTAINER_LABELS: exports, containerLabels: exports, labelsMatch: exports,
  slotPluggedInto: exports, AddressPlan: exports, macFromIpv4: exports, slotPortName: exports,
  OvsdbClient: exports, Monitor: exports, TransactionBatcher: exports, OvsdbTransactionError: exports,
  op: exports, ops: exports, cond: exports, mut: exports, decodeRows: exports, insertedUuid: exports,
  checkSchema: exports, openVswitchSchema: exports, ovnNorthboundSchema: exports,
  ovnSouthboundSchema: exports, generateTypes: exports, Netns: exports, createVeth: exports,
  createVeths: exports, configureInterface: exports, getLink: exports, listLinks: exports, setLink: exports,
  moveLink: exports, deleteLink: exports, deleteLinks: exports, deleteLinkGroup: exports,
  listAddresses: exports, listRoutes: exports, setNeighbors: exports, DockerRuntime: exports,
  ContainerEvents: exports, OvsSandbox: exports, OvsCluster: exports, ScratchNetns: exports,
  OvnSandbox: exports,
});
/* eslint-enable @typescript-eslint/no-unused-expressions, @typescript-eslint/no-unsafe-assignment, no-constant-binary-expression */
