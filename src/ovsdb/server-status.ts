// What _Server.Database says about the server a session talks to. A clustered database is
// usable only while connected to a cluster majority, only on the raft leader when the client
// asked for leaderOnly, and never when its copy is behind one this client has already seen
// (that would make the client's caches go back in time).

/** The monitor id under which a session watches _Server.Database. */
export const SERVER_MONITOR_ID = 'ecdock-_Server';

/** A _Server.Database row, as far as the client cares. */
interface ServerDb {
  name: string;
  model: string;
  connected: boolean;
  leader: boolean;
  index?: number;
}

export class ServerStatus {
  private readonly dbs = new Map<string, ServerDb>();
  /** Highest raft index seen per database, across sessions: a new server must not be behind it. */
  private readonly maxIndex = new Map<string, number>();

  /** Forgets the rows of the previous server (a new session starts a new _Server monitor). */
  clear(): void {
    this.dbs.clear();
  }

  /** Applies a _Server monitor's initial rows or update (update, update2 or update3 body). */
  apply(updates: unknown): void {
    if (!updates || typeof updates !== 'object') return;
    const rows = (updates as Record<string, unknown>).Database as Record<string, Record<string, unknown>> | undefined;
    if (!rows) return;
    for (const [uuid, u] of Object.entries(rows)) {
      if ('delete' in u) {
        this.dbs.delete(uuid);
        continue;
      }
      const body = (u.initial ?? u.insert ?? u.modify ?? u.new) as Record<string, unknown> | undefined;
      if (!body) continue;
      const prev = this.dbs.get(uuid);
      const pick = <V>(k: string, d: V): V => (k in body ? (bare(body[k]) as V) : prev ? (prev[k as keyof ServerDb] as V) : d);
      this.dbs.set(uuid, {
        name: pick('name', ''),
        model: pick('model', 'standalone'),
        connected: pick('connected', false),
        leader: pick('leader', false),
        ...(pick<number | undefined>('index', undefined) !== undefined ? { index: pick<number>('index', 0) } : {}),
      });
    }
  }

  /** Why this server must not be used, or undefined when it may. */
  unusable(leaderOnly: boolean): string | undefined {
    for (const d of this.dbs.values()) {
      if (d.model === 'clustered') {
        if (!d.connected) return `its ${d.name} database is not connected to a cluster majority`;
        if (leaderOnly && !d.leader) return `it is not the raft leader of ${d.name}`;
        const seen = this.maxIndex.get(d.name);
        if (d.index !== undefined) {
          if (seen !== undefined && d.index < seen) return `its copy of ${d.name} is behind one seen earlier (index ${d.index} < ${seen})`;
          this.maxIndex.set(d.name, d.index);
        }
      } else if (d.model === 'relay' && leaderOnly) return `it is a relay for ${d.name}, not a leader`;
    }
    return undefined;
  }
}

/** _Server columns are scalars, optional ones arrive as ["set",[]] when empty. */
function bare(v: unknown): unknown {
  if (Array.isArray(v) && v[0] === 'set') return (v[1] as unknown[])[0];
  return v;
}
