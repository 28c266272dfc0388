// The pure parts of the CNI plugin: CNI_ARGS and the environment, the network configuration, the
// result shapes per version, and how ecdock errors become CNI error codes.
import { strict as assert } from 'node:assert';
import { UsageError, VSwitchError, OvsdbError } from '../../src/errors';
import { AddressPlan } from '../../src/addressing';
import { CniError, errorObject, toCniError } from '../../src/cni/cni-error';
import { decodeJson, parseConf } from '../../src/cni/config';
import { parseCniArgs, parseCommand, parseEnv } from '../../src/cni/env';
import { requestedSlot } from '../../src/cni/commands';
import { convertResult, slotResult } from '../../src/cni/result';

const codeOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, String(e));
    return e.code;
  }
  assert.fail('expected a CniError');
};

describe('CNI plugin: parsing (pure)', () => {
  it('parses CNI_ARGS like the reference plugins: KEY=VALUE;…, unknown keys only with IgnoreUnknown', () => {
    assert.deepEqual(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=prod;IP=10.0.0.7;FOO=bar'), {
      ip: '10.0.0.7',
      podName: 'web',
      podNamespace: 'prod',
    });
    assert.deepEqual(parseCniArgs(''), {});
    assert.equal(codeOf(() => parseCniArgs('FOO=bar')), 4);
    assert.equal(codeOf(() => parseCniArgs('IP')), 4);
    assert.equal(codeOf(() => parseCniArgs('=x')), 4);
  });

  it('checks the environment per command (DEL may have no netns; GC and STATUS need none of it)', () => {
    const full = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
    assert.equal(parseEnv(full, 'ADD').ifname, 'eth0');
    assert.equal(parseEnv({ ...full, CNI_NETNS: '' }, 'DEL').netns, '');
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_NETNS: '' }, 'ADD')), 4);
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_NETNS: 'relative' }, 'CHECK')), 4);
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_CONTAINERID: '-x' }, 'ADD')), 4);
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_IFNAME: 'a/b' }, 'ADD')), 4);
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_IFNAME: 'x'.repeat(16) }, 'ADD')), 4);
    assert.equal(codeOf(() => parseEnv({ ...full, CNI_PATH: undefined }, 'DEL')), 4);
    assert.equal(parseEnv({ CNI_COMMAND: 'GC' }, 'GC').containerId, '');
    assert.equal(codeOf(() => parseCommand({})), 4);
    assert.equal(codeOf(() => parseCommand({ CNI_COMMAND: 'add' })), 4);
  });

  it('decodes the configuration: 6 for non-JSON, 1 for an unknown version, 7 for wrong keys', () => {
    assert.equal(codeOf(() => decodeJson('{')), 6);
    assert.equal(codeOf(() => decodeJson('[1]')), 6);
    const base = { cniVersion: '1.0.0', name: 'n', type: 'ecdock', vswitch: 'ovs0', subnet: '10.0.0.254/24' };
    assert.equal(parseConf(base).vswitch, 'ovs0');
    assert.equal(codeOf(() => parseConf({ ...base, cniVersion: '0.2.0' })), 1);
    assert.equal(codeOf(() => parseConf({ ...base, cniVersion: undefined })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, vswitch: undefined })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, mtu: '1500' })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, usermode: 'yes' })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, portType: 'tap' })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, ovn: {} })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, runtimeConfig: { ips: [7] } })), 7);
    assert.equal(codeOf(() => parseConf({ ...base, 'cni.dev/valid-attachments': [{ containerID: 'a' }] })), 7);
    assert.deepEqual(parseConf({ ...base, runtimeConfig: { ips: ['10.0.0.3/24'], mac: '52:00:0a:00:00:03' } }).runtimeConfig, { ips: ['10.0.0.3/24'], mac: '52:00:0a:00:00:03' });
  });

  it('picks the slot from IP=, runtimeConfig.ips or the MAC, and refuses foreign or mismatched ones', () => {
    const vs = { name: 'ovs0', plan: AddressPlan.parse('ovs0', '10.0.0.254/24') };
    const env = (args = {}) => ({ command: 'ADD' as const, containerId: 'c', netns: '/n', ifname: 'eth0', args });
    const conf = (rc = {}) => ({ ...parseConf({ cniVersion: '1.0.0', name: 'n', vswitch: 'ovs0' }), runtimeConfig: rc });
    assert.equal(requestedSlot(vs, env(), conf()), undefined);
    assert.equal(requestedSlot(vs, env({ ip: '10.0.0.7' }), conf()), 7);
    assert.equal(requestedSlot(vs, env(), conf({ ips: ['2001:db8::1/64', '10.0.0.9/24'] })), 9);
    assert.equal(requestedSlot(vs, env(), conf({ mac: '52:00:0A:00:00:05' })), 5);
    assert.throws(() => requestedSlot(vs, env({ ip: '10.0.0.254' }), conf()), (e: unknown) => e instanceof UsageError && e.code === 'SLOT_OUT_OF_RANGE');
    assert.throws(() => requestedSlot(vs, env({ ip: '10.0.1.1' }), conf()), (e: unknown) => e instanceof UsageError && e.code === 'SLOT_OUT_OF_RANGE');
    assert.throws(() => requestedSlot(vs, env({ ip: '10.0.0.7' }), conf({ mac: '52:00:0a:00:00:08' })), (e: unknown) => e instanceof UsageError && e.code === 'BAD_MAC');
    assert.throws(() => requestedSlot(vs, env(), conf({ mac: '02:00:0a:00:00:08' })), (e: unknown) => e instanceof UsageError && e.code === 'BAD_MAC');
  });

  it('writes the 1.0.0 result, and adds "version" to each IP for 0.3.x and 0.4.0', () => {
    const a = AddressPlan.parse('ovs0', '10.0.0.254/24', '2001:db8::/64').addressOf(3);
    const info = { ...a, vswitch: 'ovs0', index: 3, portType: 'veth' as const, ifname: 'eth0', state: 'up' as const, externalIds: {} };
    const r = slotResult('1.0.0', info, '/run/netns/x');
    assert.deepEqual(r.interfaces, [{ name: 'ovs0-s03' }, { name: 'eth0', mac: '52:00:0a:00:00:03', sandbox: '/run/netns/x' }]);
    assert.deepEqual(r.ips[0], { address: '10.0.0.3/24', gateway: '10.0.0.254', interface: 1 });
    assert.equal(r.ips[1].address, `${a.ipv6}/64`);
    assert.deepEqual(r.routes.map((x) => x.dst), ['0.0.0.0/0', '::/0']);
    const old = convertResult(r, '0.3.1');
    assert.equal(old.cniVersion, '0.3.1');
    assert.deepEqual(old.ips.map((x) => x.version), ['4', '6']);
    assert.deepEqual(slotResult('1.0.0', info, '/run/netns/x', 'aa:bb:cc:00:11:22').interfaces[0], { name: 'ovs0-s03', mac: 'aa:bb:cc:00:11:22' });
    const internal = slotResult('1.1.0', { ...info, portType: 'internal' }, '/n', 'aa:bb:cc:00:11:22');
    assert.equal(internal.interfaces.length, 1);
    assert.equal(internal.ips[0].interface, 0);
  });

  it('maps ecdock errors onto CNI codes, with the ecdock code in details', () => {
    assert.equal(toCniError(new OvsdbError('OVSDB_UNREACHABLE', 'down')).code, 11);
    assert.equal(toCniError(new UsageError('BAD_SUBNET', 'bad')).code, 7);
    assert.equal(toCniError(new VSwitchError('SLOT_TAKEN', 'taken')).code, 101);
    assert.equal(toCniError(new VSwitchError('NETNS_GONE', 'gone')).code, 3);
    assert.equal(toCniError(new Error('boom')).code, 106);
    const o = errorObject(toCniError(new VSwitchError('SLOT_TAKEN', 'slot 7 is taken', { detail: { slot: 7n } })), '1.0.0');
    assert.deepEqual(o, { cniVersion: '1.0.0', code: 101, msg: 'slot 7 is taken', details: '{"ecdock":"SLOT_TAKEN","detail":{"slot":"7"}}' });
  });
});
