// Exit codes of `ec`: one per kind of failure, so that a script can tell "fix your input" from
// "the slot is taken" from "dockerd is down" without parsing messages.
import { isEcdockError, type ErrorKind } from '../errors';

export const EXIT = {
  ok: 0,
  usage: 2,
  conflict: 3,
  'not-found': 4,
  unavailable: 5,
  failed: 6,
  protocol: 7,
  internal: 70,
} as const satisfies Record<ErrorKind | 'ok', number>;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code for an error: its kind's code; anything that is not an EcdockError is a bug (70). */
export function exitCodeFor(e: unknown): ExitCode {
  if (isEcdockError(e)) return EXIT[e.kind] ?? EXIT.internal;
  return EXIT.internal;
}

/** The table printed at the end of `ec --help` and in docs/CLI.md. */
export const EXIT_CODES_HELP = `Exit codes:
  0   ok
  2   usage: bad input (unknown command or option, slot out of range, bad subnet...)
  3   conflict: the request collides with existing state (slot taken, name exists)
  4   not found: no such vswitch, slot, container, image or namespace
  5   unavailable: ovsdb-server, dockerd or the kernel datapath is missing or unreachable
  6   failed: the system refused the operation (or a demo ping failed)
  7   protocol: a peer broke its protocol
  70  internal: a bug in ecdock
  ec attach ends with the container's exit code when the container exits.`;
