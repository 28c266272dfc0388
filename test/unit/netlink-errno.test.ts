// The named errnos of src/netlink are Linux's numbers (what the kernel puts in netlink acks).
import { strict as assert } from 'node:assert';
import { constants } from 'node:os';
import * as E from '../../src/netlink/nl/errno';

describe('netlink errno names (no root)', () => {
  it('every name has the number Linux gives it', function () {
    if (process.platform !== 'linux') this.skip();
    const os = constants.errno as Record<string, number>;
    for (const [name, n] of Object.entries(E)) assert.equal(n, os[name], name);
  });
});
