// A container as dockerd's inspect reports it, turned into the runtime-neutral ContainerInfo.
import type { ContainerInfo } from './container-runtime';

// Docker's StartedAt of a container that never started.
const NEVER = '0001-01-01T00:00:00Z';

/** The part of dockerd's container inspect that ecdock reads. */
export interface InspectData {
  Id: string;
  Name: string;
  RestartCount?: number;
  State?: { Status?: string; Running?: boolean; Pid?: number; ExitCode?: number; StartedAt?: string };
  Config?: { Image?: string; Labels?: Record<string, string> | null; Tty?: boolean };
}

export function toInfo(d: InspectData): ContainerInfo {
  const st = d.State ?? {};
  const running = st.Running === true;
  const info: ContainerInfo = {
    id: d.Id,
    name: (d.Name ?? '').replace(/^\//, ''),
    image: d.Config?.Image ?? '',
    pid: running ? (st.Pid ?? 0) : 0,
    running,
    state: st.Status ?? (running ? 'running' : 'unknown'),
    labels: { ...(d.Config?.Labels ?? {}) },
    tty: d.Config?.Tty === true,
  };
  if (st.StartedAt && st.StartedAt !== NEVER) info.startedAt = st.StartedAt;
  if (!running && info.startedAt !== undefined && typeof st.ExitCode === 'number') info.exitCode = st.ExitCode;
  if (typeof d.RestartCount === 'number') info.restartCount = d.RestartCount;
  return info;
}

