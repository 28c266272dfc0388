// The external_ids keys the Docker driver adds to a bridge and to a slot (never "ecdock:", which
// the library owns). `ec list` reads the slot's to say which Docker endpoint holds it.
export const DOCKER_KEYS = {
  network: 'docker:network-id',
  endpoint: 'docker:endpoint-id',
  created: 'docker:created-by-plugin',
} as const;
