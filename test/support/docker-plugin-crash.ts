// ecdock-docker-plugin with a crash point armed: kills itself (SIGKILL) when the library reaches
// the point named by ECDOCK_TEST_CRASH_AT, as a power cut would.
import { setCrashHook, type CrashPoint } from '../../src/crash-points';
import { main } from '../../src/docker-plugin/plugin-daemon';

const at = process.env.ECDOCK_TEST_CRASH_AT as CrashPoint | undefined;
setCrashHook((p) => {
  if (p === at) process.kill(process.pid, 'SIGKILL');
});
void main(process.argv.slice(2));
