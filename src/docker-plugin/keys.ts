// The external_ids keys the Docker driver adds to a bridge and to a slot (never "ecdock:", which
// the library owns). `ec list` reads the slot's to say which Docker endpoint holds it.
export const DOCKER_KEYS = {
  network: 'docker:network-id',
  endpoint: 'docker:endpoint-id',
  created: 'docker:created-by-plugin',
  /** On a slot: when Join made it (ms since the epoch); a restarted plugin leaves its container end to dockerd for a while. */
  joinedAt: 'docker:joined-at',
  /** Prefix, on this host's Open_vSwitch row: docker:ovn-network:<network id> = the OVN vswitch serving it. */
  ovnNetwork: 'docker:ovn-network:',
  /** Prefix, on an OVN Logical_Switch: docker:network-id:<chassis> = that host's Docker network on it. */
  ovnHost: 'docker:network-id:',
} as const;
