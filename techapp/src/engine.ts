// The app's state on the phone, and the sync loop that ties the outbox, the pull
// and the fix upload together. The UI reads snapshots and records actions here.

import { Db } from "./db";
import { call, type Fetcher, NetworkError, problemOf, problemLines } from "./http";
import type { Effect } from "./local";
import { type Entry, enqueue, entries, localJob, PullFailed, pull, push } from "./outbox";
import { fixFromPosition, flush, keep } from "./tracking";
import type { Catalog, CatalogItem, Job, Me } from "./types";

export const SYNC_EVERY_MS = 15_000; // a phone on a job: soon enough, light on battery

export interface Snapshot {
  token: string | null;
  me: Me | null;
  jobs: Job[];
  outbox: Entry[];
  fixesWaiting: number;
  online: boolean;
  syncing: boolean;
  lastSync: string | null;
  lastError: string | null;
  /** The price book as last read online (kept for offline). */
  catalog: Catalog | null;
}

/** What GET /jobs/{id}/take-backs/check answers about a scanned serial. */
export interface SerialCheck {
  serial: string;
  found: boolean;
  item: CatalogItem | null;
  family: string | null;
  client_families: string[];
}

export function uuid(): string {
  return crypto.randomUUID();
}

export class Engine {
  private listeners = new Set<(s: Snapshot) => void>();
  private running: Promise<void> | null = null;
  private again = false;
  snapshot: Snapshot = {
    token: null,
    me: null,
    jobs: [],
    outbox: [],
    fixesWaiting: 0,
    online: true,
    syncing: false,
    lastSync: null,
    lastError: null,
    catalog: null,
  };

  constructor(
    readonly db: Db,
    private readonly fetcher: Fetcher = (input, init) => fetch(input, init),
  ) {}

  static async start(): Promise<Engine> {
    const engine = new Engine(await Db.open());
    await engine.load();
    return engine;
  }

  subscribe(listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(change: Partial<Snapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of this.listeners) listener(this.snapshot);
  }

  /** Everything from IndexedDB: what the phone knows without any network. */
  async load(): Promise<void> {
    const [token, me, jobs, outbox, fixes, lastSync, catalog] = await Promise.all([
      this.db.get<string>("kv", "token"),
      this.db.get<Me>("kv", "me"),
      this.db.all<Job>("jobs"),
      entries(this.db),
      this.db.all("fixes"),
      this.db.get<string>("kv", "last-sync"),
      this.db.get<Catalog>("kv", "catalog"),
    ]);
    this.set({
      catalog: catalog ?? null,
      token: token ?? null,
      me: me ?? null,
      jobs,
      outbox,
      fixesWaiting: fixes.length,
      lastSync: lastSync ?? null,
    });
  }

  job(id: string): Job | undefined {
    const job = this.snapshot.jobs.find((j) => j.id === id);
    return job === undefined ? undefined : localJob(job, this.snapshot.outbox);
  }

  async login(email: string, password: string): Promise<string | null> {
    let answer: Awaited<ReturnType<typeof call>>;
    try {
      answer = await call(this.fetcher, "/auth/login", {
        method: "POST",
        json: { email, password },
      });
    } catch (exc) {
      if (exc instanceof NetworkError) return "No connection: logging in needs the network once.";
      throw exc;
    }
    if (answer.status !== 200) return problemLines(problemOf(answer)).join(" ");
    const body = answer.body as { token: string; me: Me };
    const previous = this.snapshot.me;
    if (previous && previous.user_id !== body.me.user_id) await this.forgetData();
    await this.db.put("kv", body.token, "token");
    await this.db.put("kv", body.me, "me");
    this.set({ token: body.token, me: body.me, lastError: null });
    void this.sync();
    return null;
  }

  /** Log out: the token is revoked when the server can be told; waiting entries
   * stay on the phone for the next login of the same technician. */
  async logout(): Promise<void> {
    const token = this.snapshot.token;
    if (token) {
      try {
        await call(this.fetcher, "/auth/logout", { method: "POST", token });
      } catch (exc) {
        if (!(exc instanceof NetworkError)) throw exc;
      }
    }
    await this.db.remove("kv", ["token"]);
    this.set({ token: null });
  }

  private async forgetData(): Promise<void> {
    for (const store of ["jobs", "outbox", "fixes", "history"] as const) await this.db.clear(store);
    await this.db.remove("kv", ["sync-cursor", "me", "last-sync", "catalog"]);
    await this.load();
  }

  /** Record an action: kept in the outbox first, shown at once, synced when possible. */
  async record(
    job: Job,
    label: string,
    method: Entry["method"],
    path: string,
    body: unknown,
    effect: Effect,
    id: string = uuid(),
    recordedAt: string = new Date().toISOString(),
  ): Promise<Entry> {
    const entry = await enqueue(this.db, {
      id,
      jobId: job.id,
      method,
      path,
      body,
      recordedAt,
      label,
      effect,
    });
    this.set({ outbox: await entries(this.db) });
    void this.sync();
    return entry;
  }

  async dismiss(id: string): Promise<void> {
    await this.db.remove("outbox", [id]);
    this.set({ outbox: await entries(this.db) });
  }

  /** A position while clocked in: kept as a fix until acknowledged. */
  async position(p: GeolocationPosition): Promise<void> {
    const fix = fixFromPosition(p);
    if (fix === null || !(await keep(this.db, fix))) return;
    this.set({ fixesWaiting: (await this.db.all("fixes")).length });
  }

  /** One sync at a time; a request during one runs another right after it. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.syncOnce();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const token = this.snapshot.token;
    if (!token) return;
    this.set({ syncing: true });
    try {
      const pushed = await push(this.db, this.fetcher, token);
      // what was sent leaves the shown outbox only with the pull that brings its
      // effect from the server (else the screen flickers back to before it)
      if (pushed.stopped !== null) this.set({ outbox: await entries(this.db) });
      if (pushed.stopped === "offline") return this.set({ online: false });
      if (pushed.stopped === "unauthorized") return this.unauthorized();
      const device = this.snapshot.me?.devices[0]?.id;
      if (device) {
        const flushed = await flush(this.db, this.fetcher, token, device);
        this.set({ fixesWaiting: flushed.left });
        if (flushed.offline) return this.set({ online: false });
      }
      if (pushed.stopped === "server") {
        return this.set({
          online: true,
          lastError: "The server is busy; the outbox is kept and retried.",
        });
      }
      await pull(this.db, this.fetcher, token);
      const now = new Date().toISOString();
      await this.db.put("kv", now, "last-sync");
      this.set({
        jobs: await this.db.all<Job>("jobs"),
        outbox: await entries(this.db),
        online: true,
        lastSync: now,
        lastError: null,
      });
      await this.readCatalog(token);
    } catch (exc) {
      if (exc instanceof NetworkError) return this.set({ online: false });
      if (exc instanceof PullFailed && exc.problem.status === 401) return this.unauthorized();
      this.set({ lastError: String(exc instanceof Error ? exc.message : exc) });
    } finally {
      this.set({ syncing: false, outbox: await entries(this.db) });
    }
  }

  private async unauthorized(): Promise<void> {
    await this.db.remove("kv", ["token"]);
    this.set({
      token: null,
      lastError: "Your session ended: log in again (nothing waiting is lost).",
    });
  }

  private async readCatalog(token: string): Promise<void> {
    const answer = await call(this.fetcher, "/parts/catalog", { token });
    if (answer.status !== 200) return;
    const catalog = answer.body as Catalog;
    await this.db.put("kv", catalog, "catalog");
    this.set({ catalog });
  }

  /** Look a serial up among the client's installed parts (online only; else null). */
  async checkSerial(jobId: string, serial: string): Promise<SerialCheck | null> {
    const token = this.snapshot.token;
    if (!token || !this.snapshot.online) return null;
    try {
      const query = `?serial=${encodeURIComponent(serial)}`;
      const answer = await call(this.fetcher, `/jobs/${jobId}/take-backs/check${query}`, {
        token,
      });
      return answer.status === 200 ? (answer.body as SerialCheck) : null;
    } catch (exc) {
      if (exc instanceof NetworkError) return null;
      throw exc;
    }
  }

  /** The job's history (online only; the last one read is kept for offline). */
  async history(jobId: string): Promise<HistoryEntry[] | null> {
    const token = this.snapshot.token;
    if (token) {
      try {
        const answer = await call(this.fetcher, `/jobs/${jobId}/history`, { token });
        if (answer.status === 200) {
          const items = (answer.body as { items: HistoryEntry[] }).items;
          await this.db.put("history", { job_id: jobId, items });
          return items;
        }
      } catch (exc) {
        if (!(exc instanceof NetworkError)) throw exc;
      }
    }
    const kept = await this.db.get<{ items: HistoryEntry[] }>("history", jobId);
    return kept?.items ?? null;
  }

  /** The customer's online view of a job (a link the crew may create; online only). */
  async onlineLink(jobId: string): Promise<string | null> {
    const token = this.snapshot.token;
    if (!token) return null;
    try {
      const answer = await call(this.fetcher, `/jobs/${jobId}/online-links`, {
        method: "POST",
        token,
      });
      if (answer.status === 200 || answer.status === 201)
        return (answer.body as { url: string }).url;
    } catch (exc) {
      if (!(exc instanceof NetworkError)) throw exc;
    }
    return null;
  }
}

export interface HistoryEntry {
  at: string;
  action: string;
  actor_name?: string;
  by_name?: string;
}
