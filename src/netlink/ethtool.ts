// Device offloads, set from inside a namespace without a process: an "ethtool set" request rides
// in a netlink batch like any other, and the addon answers it with a SIOCETHTOOL ioctl on the
// batch's socket. An ioctl acts in the namespace of the socket it is made on, so it reaches the
// link by index in the same namespace as the batch's other requests, in order.

import { ECDOCK_ETHTOOL_SET, ETHTOOL_STXCSUM, NLM_F_ACK, NLM_F_REQUEST } from './nl/constants';
import { MessageBuilder, type Request } from './nl/message';

/**
 * Turns TX checksum offload of link `index` on or off. Off also drops what depends on it (TSO):
 * the kernel then fills in every L4 checksum before the packet leaves the device.
 */
export function txChecksumRequest(index: number, on: boolean): Request {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt32LE(index >>> 0, 0);
  fixed.writeUInt32LE(ETHTOOL_STXCSUM, 4);
  fixed.writeUInt32LE(on ? 1 : 0, 8);
  return new MessageBuilder(ECDOCK_ETHTOOL_SET, NLM_F_REQUEST | NLM_F_ACK, fixed).finish();
}
