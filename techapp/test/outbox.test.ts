import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Db } from "../src/db";
import { Engine } from "../src/engine";
import { blockers, stillBlocking, worked } from "../src/local";
import { enqueue, entries, isFinal, localJob, pull, push } from "../src/outbox";
import type { Job, Report } from "../src/types";
import { FakeServer } from "./fakes";

let db: Db;
let server: FakeServer;
let n = 0;

beforeEach(async () => {
  n += 1;
  db = await Db.open(indexedDB, `test-${n}`);
  server = new FakeServer();
});

afterEach(() => db.close());

const TECH = "tech-1";

function report(): Report {
  return {
    template: { id: "t", name: "Boiler", required_signatures: ["customer"] },
    status: "open",
    locked: false,
    families: [
      {
        key: "safety",
        name: "Safety checks",
        has_mandatory: true,
        fields: [
          {
            key: "gas_tight",
            label: "Gas tightness OK",
            type: "checkbox",
            mandatory: true,
            value: null,
            comment: null,
            reserves: [],
          },
          {
            key: "pressure",
            label: "Pressure (bar)",
            type: "number",
            mandatory: true,
            value: null,
            comment: null,
            reserves: [],
          },
          {
            key: "remarks",
            label: "Remarks",
            type: "text",
            mandatory: false,
            value: null,
            comment: null,
            reserves: [],
          },
        ],
      },
    ],
    reserves: [],
    attachments: [],
    signatures: { customer: null, technician: null },
    blockers: [],
  };
}

function job(id = "job-1"): Job {
  return {
    id,
    number: "J-000001",
    status: "scheduled",
    description: "Annual boiler service",
    client: { id: "c", name: "Émile Zola" },
    property: null,
    site_contact: { name: "", phone: "", mobile: "", email: "" },
    scheduled_start: null,
    scheduled_end: null,
    crew: [{ technician_id: TECH, name: "Tess", role: "job_manager" }],
    sessions: [],
    pending_clock_events: [],
    report: report(),
    notes: [],
  };
}

/** Try to sync while offline, then bring the server back with ``items`` to pull. */
async function backOnlineWith(engine: Engine, ...items: Job[]): Promise<void> {
  await engine.sync();
  server.online = true;
  server.changes = [{ items, removed: [], next_cursor: "c1", has_more: false }];
}

async function engineWithJob(): Promise<Engine> {
  const engine = new Engine(db, server.fetcher);
  await db.put("kv", "ct_token", "token");
  await db.put(
    "kv",
    {
      user_id: "u",
      name: "Tess",
      email: null,
      role: "technician",
      technician_id: TECH,
      devices: [],
      time_zone: "Europe/Paris",
    },
    "me",
  );
  await db.put("jobs", job());
  await engine.load();
  return engine;
}

describe("the outbox", () => {
  it("applies an action at once, offline, and keeps it with its id and time until it is sent", async () => {
    server.online = false;
    const engine = await engineWithJob();
    const j = engine.job("job-1") as Job;
    await engine.record(
      j,
      "start",
      "POST",
      "/jobs/job-1/sessions",
      { event: "clock_in", at: "2026-01-05T08:00:00Z" },
      {
        kind: "clock",
        event: "clock_in",
        at: "2026-01-05T08:00:00Z",
        technicianId: TECH,
      },
    );
    await engine.sync();
    const shown = engine.job("job-1") as Job;
    expect(shown.status).toBe("in_progress");
    expect(worked(shown, TECH, Date.parse("2026-01-05T08:30:00Z")).workedMs).toBe(30 * 60_000);
    const waiting = await entries(db);
    expect(waiting).toHaveLength(1);
    expect(waiting[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(waiting[0].recordedAt)).not.toBeNaN();
    expect(engine.snapshot.online).toBe(false);
    expect(server.received).toHaveLength(0);
  });

  it("pushes entries in the order they were made, with the entry id as Idempotency-Key, then pulls", async () => {
    const engine = await engineWithJob();
    server.online = false;
    const j = engine.job("job-1") as Job;
    const a = await engine.record(
      j,
      "fields",
      "PATCH",
      "/jobs/job-1/report/fields",
      { fields: { gas_tight: { value: true } } },
      {
        kind: "fields",
        fields: { gas_tight: { value: true } },
      },
    );
    const b = await engine.record(
      j,
      "note",
      "POST",
      "/jobs/job-1/notes",
      { text: "x" },
      { kind: "complete" },
    );
    await backOnlineWith(engine, { ...job(), status: "completed" });
    await engine.sync();
    expect(server.received.map((r) => [r.method, r.path, r.key])).toEqual([
      ["PATCH", "/jobs/job-1/report/fields", a.id],
      ["POST", "/jobs/job-1/notes", b.id],
    ]);
    expect(await entries(db)).toEqual([]);
    expect(server.pulls).toEqual([null]);
    expect(engine.job("job-1")?.status).toBe("completed");
  });

  it("keeps showing a sent action until the pull brings the server's copy (no flicker back)", async () => {
    const engine = await engineWithJob();
    server.online = false;
    await engine.record(
      engine.job("job-1") as Job,
      "complete",
      "POST",
      "/jobs/job-1/complete",
      undefined,
      { kind: "complete" },
    );
    await backOnlineWith(engine, { ...job(), status: "completed" });
    const seen: (string | undefined)[] = [];
    const stop = engine.subscribe(() => seen.push(engine.job("job-1")?.status));
    await engine.sync();
    stop();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s === "completed")).toBe(true);
  });

  it("sends a write whose answer was lost again with the same key, and the server keeps it once", async () => {
    server.loseNextAnswer = true;
    await db.put("outbox", {
      id: "e-1",
      seq: 1,
      jobId: "job-1",
      method: "POST",
      path: "/jobs/job-1/report/reserves",
      body: { id: "r1" },
      recordedAt: "2026-01-05T08:00:00Z",
      label: "reserve",
      effect: { kind: "complete" },
      state: "waiting",
    });
    expect(await push(db, server.fetcher, "t")).toEqual({
      sent: 0,
      refused: 0,
      stopped: "offline",
    });
    expect(await entries(db)).toHaveLength(1); // the phone does not know it arrived
    expect(await push(db, server.fetcher, "t")).toEqual({ sent: 1, refused: 0, stopped: null });
    expect(await entries(db)).toHaveLength(0);
    expect(server.received.filter((r) => r.key === "e-1")).toHaveLength(1);
  });

  it("keeps a 409 or 422 answer as final, shows why, and goes on with the next entries", async () => {
    const engine = await engineWithJob();
    server.answers.push((r) =>
      r.path === "/jobs/job-1/complete"
        ? {
            status: 409,
            body: {
              title: "Completion blocked",
              detail: "the job cannot be completed",
              blocking_items: [
                {
                  code: "mandatory-field-missing",
                  message: "Safety checks › Pressure (bar) is mandatory",
                  ref: "x",
                },
              ],
            },
          }
        : null,
    );
    const j = engine.job("job-1") as Job;
    await engine.record(j, "complete", "POST", "/jobs/job-1/complete", undefined, {
      kind: "complete",
    });
    await engine.record(
      j,
      "note",
      "POST",
      "/jobs/job-1/notes",
      { text: "after" },
      { kind: "fields", fields: {} },
    );
    await engine.sync();
    await engine.sync(); // a refused entry is never sent again
    const left = await entries(db);
    expect(left).toHaveLength(1);
    expect(left[0].state).toBe("refused");
    expect(left[0].problem?.blocking_items?.[0].message).toBe(
      "Safety checks › Pressure (bar) is mandatory",
    );
    expect(server.received.filter((r) => r.path === "/jobs/job-1/complete")).toHaveLength(1);
    expect(server.received.map((r) => r.path)).toContain("/jobs/job-1/notes");
    // a refused entry no longer shows its effect
    expect(localJob(job(), left).status).toBe("scheduled");
  });

  it("stops at a server error or a lost session and keeps the rest in order", async () => {
    server.answers.push((r) => (r.path.endsWith("/a") ? { status: 503, body: {} } : null));
    await db.put("outbox", {
      id: "1",
      seq: 1,
      jobId: "j",
      method: "POST",
      path: "/a",
      body: {},
      recordedAt: "",
      label: "a",
      effect: { kind: "complete" },
      state: "waiting",
    });
    await db.put("outbox", {
      id: "2",
      seq: 2,
      jobId: "j",
      method: "POST",
      path: "/b",
      body: {},
      recordedAt: "",
      label: "b",
      effect: { kind: "complete" },
      state: "waiting",
    });
    expect(await push(db, server.fetcher, "t")).toEqual({ sent: 0, refused: 0, stopped: "server" });
    expect(server.received.map((r) => r.path)).toEqual(["/a"]);
    expect((await entries(db)).map((e) => e.id)).toEqual(["1", "2"]);
    expect(isFinal(422)).toBe(true);
    expect(isFinal(409)).toBe(true);
    expect(isFinal(401)).toBe(false);
    expect(isFinal(429)).toBe(false);
    expect(isFinal(503)).toBe(false);
  });

  it("pulls while has_more, keeps the cursor for next time and drops removed jobs", async () => {
    await db.put("jobs", job("gone"));
    server.changes = [
      { items: [job("a")], removed: [], next_cursor: "c1", has_more: true },
      { items: [job("b")], removed: ["gone"], next_cursor: "c2", has_more: false },
    ];
    expect(await pull(db, server.fetcher, "t")).toEqual({ changed: 2, removed: 1 });
    expect((await db.all<Job>("jobs")).map((j) => j.id).sort()).toEqual(["a", "b"]);
    await pull(db, server.fetcher, "t");
    expect(server.pulls).toEqual([null, "c1", "c2"]);
  });
});

describe("recording", () => {
  it("keeps every action recorded at the same moment, each in its own place in line", async () => {
    const made = await Promise.all(
      ["a", "b", "c", "d"].map((label) =>
        enqueue(db, {
          id: label,
          jobId: "j",
          method: "POST",
          path: `/${label}`,
          body: {},
          recordedAt: "2026-01-05T08:00:00Z",
          label,
          effect: { kind: "complete" },
        }),
      ),
    );
    expect(new Set(made.map((e) => e.seq)).size).toBe(4);
    expect((await entries(db)).map((e) => e.id).sort()).toEqual(["a", "b", "c", "d"]);
  });
});

describe("End's rule on the phone", () => {
  it("lists every empty mandatory field and each missing or unvalidated required signature", () => {
    const r = report();
    expect(blockers(r)).toEqual([
      "Safety checks › Gas tightness OK is mandatory",
      "Safety checks › Pressure (bar) is mandatory",
      "the customer's signature is missing",
    ]);
    r.families[0].fields[0].value = false; // an unticked mandatory checkbox is not done
    r.families[0].fields[1].value = "  ";
    r.signatures.customer = {
      role: "customer",
      signer_name: "É. Zola",
      image: null,
      validated: false,
    };
    expect(blockers(r)).toEqual([
      "Safety checks › Gas tightness OK is mandatory",
      "Safety checks › Pressure (bar) is mandatory",
      "the customer's signature is not validated",
    ]);
    r.families[0].fields[0].value = true;
    r.families[0].fields[1].value = "1.4";
    r.signatures.customer.validated = true;
    expect(blockers(r)).toEqual([]);
  });

  it("clears a refusal line as soon as its field is filled, and the whole box once nothing blocks", () => {
    const r = report();
    const refused = blockers(r);
    r.families[0].fields[1].value = "1.4";
    expect(stillBlocking(refused, r)).toEqual([
      "Safety checks › Gas tightness OK is mandatory",
      "the customer's signature is missing",
    ]);
    r.families[0].fields[0].value = true;
    r.signatures.customer = { role: "customer", signer_name: "Z", image: null, validated: true };
    expect(stillBlocking(refused, r)).toEqual([]);
  });
});

describe("worked time", () => {
  it("is rebuilt from every clock event in time order, pauses excluded, whatever the arrival order", () => {
    const j = job();
    j.sessions = [
      {
        id: "s",
        technician_id: TECH,
        state: "open",
        evidence: [
          { kind: "clock_in", at: "2026-01-05T08:00:00Z", event_id: "e1" },
          { kind: "resume", at: "2026-01-05T09:30:00Z", event_id: "e3" },
        ],
      },
    ];
    j.pending_clock_events = [
      { technician_id: TECH, event: "clock_out", at: "2026-01-05T10:00:00Z", event_id: "e4" },
      { technician_id: TECH, event: "pause", at: "2026-01-05T09:00:00Z", event_id: "e2" },
      { technician_id: TECH, event: "pause", at: "2026-01-05T09:00:00Z", event_id: "e2" },
      {
        technician_id: "someone-else",
        event: "clock_in",
        at: "2026-01-05T07:00:00Z",
        event_id: "x",
      },
    ];
    const w = worked(j, TECH, Date.parse("2026-01-05T12:00:00Z"));
    expect(w.state).toBe("out");
    expect(w.workedMs).toBe(90 * 60_000);
  });
});
