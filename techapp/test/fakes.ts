// A stand-in for the crewtrack API over fetch, for unit tests of the sync logic:
// it remembers every write by its Idempotency-Key (a retry replays the first
// answer, as the real server does) and can drop the network or lose an answer.

import type { Fetcher } from "../src/http";

export interface Received {
  method: string;
  path: string;
  key: string | null;
  body: unknown;
}

export class FakeServer {
  online = true;
  /** Commit the next write, then fail as if the answer was lost on the way. */
  loseNextAnswer = false;
  received: Received[] = [];
  stored = new Map<string, { status: number; body: unknown }>();
  answers: ((r: Received) => { status: number; body: unknown } | null)[] = [];
  changes: { items: unknown[]; removed: string[]; next_cursor: string; has_more: boolean }[] = [];
  pulls: (string | null)[] = [];
  /** What GET /parts/catalog answers (read after each pull, not a write). */
  catalog: unknown = { families: [], items: [] };

  fetcher: Fetcher = async (input, init) => {
    if (!this.online) throw new TypeError("Failed to fetch");
    const url = new URL(String(input), "http://phone.test");
    const method = init?.method ?? "GET";
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const path = url.pathname.replace(/^\/api\/v1/, "");
    if (method === "GET" && path === "/sync/changes") {
      this.pulls.push(url.searchParams.get("since"));
      const page = this.changes.shift() ?? {
        items: [],
        removed: [],
        next_cursor: "c-end",
        has_more: false,
      };
      return json(200, page);
    }
    if (method === "GET" && path === "/parts/catalog") return json(200, this.catalog);
    const key = headers["Idempotency-Key"] ?? null;
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : init?.body;
    if (key && this.stored.has(key)) {
      const first = this.stored.get(key) as { status: number; body: unknown };
      return json(first.status, first.body);
    }
    const received = { method, path, key, body };
    this.received.push(received);
    const answer = this.answers.map((f) => f(received)).find((a) => a !== null) ?? {
      status: 201,
      body: {},
    };
    if (key) this.stored.set(key, answer);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new TypeError("network changed");
    }
    return json(answer.status, answer.body);
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}
