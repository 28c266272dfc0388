// Defaults shared by the library and `ec`, each stated once.

/** The OVSDB used when none is given: the system ovsdb-server's socket, where Debian's openvswitch-switch puts it. */
export const DEFAULT_OVSDB_URL = 'unix:/var/run/openvswitch/db.sock';

/** The environment variable that overrides DEFAULT_OVSDB_URL (`ec --db` and `OvsdbClient.connect()` read it). */
export const OVSDB_URL_ENV = 'ECDOCK_DB';
