// The outbox: every write the technician makes is kept here first, with its own id
// (the Idempotency-Key, and the record's id where the API takes one) and the time it
// was recorded; the UI shows its effect at once; the sync loop pushes the entries in
// the order they were made, each exactly once, and only then pulls what changed.

import type { Db } from "./db";
import { type Answer, call, type Fetcher, NetworkError, problemOf } from "./http";
import { applyEffect, type Effect } from "./local";
import type { Job, Problem } from "./types";

export interface Entry {
  id: string;
  seq: number;
  jobId: string;
  method: "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body: unknown;
  recordedAt: string;
  label: string;
  effect: Effect;
  state: "waiting" | "refused";
  problem?: Problem;
}

export type NewEntry = Omit<Entry, "seq" | "state" | "problem">;

/** Why a push stopped before the end of the outbox (it is retried later). */
export type Stop = "offline" | "unauthorized" | "server" | null;

export interface PushResult {
  sent: number;
  refused: number;
  stopped: Stop;
}

/** Answers that are final for this write: the server will never accept it as sent. */
export function isFinal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 408, 425, 429].includes(status);
}

export async function entries(db: Db): Promise<Entry[]> {
  return db.all<Entry>("outbox", "seq");
}

export async function enqueue(db: Db, entry: NewEntry): Promise<Entry> {
  return db.append<Entry>("outbox", { ...entry, state: "waiting" });
}

/** A refused entry the technician has read: forget it. */
export async function dismiss(db: Db, id: string): Promise<void> {
  await db.remove("outbox", [id]);
}

async function send(fetcher: Fetcher, token: string, entry: Entry): Promise<Answer> {
  return call(fetcher, entry.path, {
    method: entry.method,
    token,
    json: entry.body,
    idempotencyKey: entry.id,
  });
}

/** Push every waiting entry, oldest first, until one cannot be delivered. */
export async function push(db: Db, fetcher: Fetcher, token: string): Promise<PushResult> {
  const result: PushResult = { sent: 0, refused: 0, stopped: null };
  for (const entry of await entries(db)) {
    if (entry.state !== "waiting") continue;
    let answer: Answer;
    try {
      answer = await send(fetcher, token, entry);
    } catch (exc) {
      if (exc instanceof NetworkError) {
        result.stopped = "offline";
        return result;
      }
      throw exc;
    }
    // a DELETE whose answer was lost: sent again, the record is already gone
    const gone = entry.method === "DELETE" && answer.status === 404;
    if ((answer.status >= 200 && answer.status < 300) || gone) {
      await db.remove("outbox", [entry.id]);
      result.sent += 1;
    } else if (answer.status === 401) {
      result.stopped = "unauthorized";
      return result;
    } else if (isFinal(answer.status)) {
      await db.put("outbox", { ...entry, state: "refused", problem: problemOf(answer) });
      result.refused += 1;
    } else {
      result.stopped = "server";
      return result;
    }
  }
  return result;
}

export interface PullResult {
  changed: number;
  removed: number;
}

interface ChangesPage {
  items: Job[];
  removed: string[];
  next_cursor: string;
  has_more: boolean;
}

const CURSOR_KEY = "sync-cursor";

/** Pull every job that changed since the last cursor (whole jobs; replace the copy). */
export async function pull(db: Db, fetcher: Fetcher, token: string): Promise<PullResult> {
  let since = await db.get<string>("kv", CURSOR_KEY);
  const result: PullResult = { changed: 0, removed: 0 };
  for (;;) {
    const query = since ? `?since=${encodeURIComponent(since)}` : "";
    const answer = await call(fetcher, `/sync/changes${query}`, { token });
    if (answer.status !== 200) throw new PullFailed(problemOf(answer));
    const page = answer.body as ChangesPage;
    await db.write("jobs", page.items, page.removed);
    await db.put("kv", page.next_cursor, CURSOR_KEY);
    result.changed += page.items.length;
    result.removed += page.removed.length;
    since = page.next_cursor;
    if (!page.has_more) return result;
  }
}

export class PullFailed extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

/** The job as the phone shows it: the server's copy with every waiting entry applied. */
export function localJob(job: Job, outbox: Entry[]): Job {
  return outbox
    .filter((e) => e.jobId === job.id && e.state === "waiting")
    .reduce((acc, e) => applyEffect(acc, e.effect, e.id), job);
}
