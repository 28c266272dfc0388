// Preloaded (node -r) into a plugin process by the crash tests: kills the process with SIGKILL at
// the crash point named by ECDOCK_CRASH_AT, so a test can interrupt an ADD at an exact step.
import { setCrashHook, type CrashPoint } from '../../src/crash-points';

const at = process.env.ECDOCK_CRASH_AT as CrashPoint | undefined;
if (at) setCrashHook((p) => (p === at ? process.kill(process.pid, 'SIGKILL') : undefined));
