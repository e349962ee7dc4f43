import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Db } from "../src/db";
import { applyEffect, lineNet, parseSerials, searchCatalog, totalTaxFree } from "../src/local";
import { entries, push } from "../src/outbox";
import type { CatalogItem, Job } from "../src/types";
import { FakeServer } from "./fakes";

const CATALOG: CatalogItem[] = [
  item("p1", "Pumps", "Circulator pump UPS 25", "part", "189.00", true, "GR-25"),
  item("p2", "Pumps", "Pump seal kit", "part", "12.50", false, "SK-1"),
  item("s1", "Services", "Annual boiler service", "service", "95.00", false, null),
  item("v1", "Valves", "Thermostatic valve", "part", "18.30", false, "TV-9"),
];

function item(
  id: string,
  family: string,
  name: string,
  kind: CatalogItem["kind"],
  unit_price: string,
  serialized: boolean,
  sku: string | null,
): CatalogItem {
  return { id, family, name, kind, unit_price, tax_rate: "20", serialized, sku };
}

function job(): Job {
  return {
    id: "job-1",
    number: "J-000001",
    status: "in_progress",
    description: "",
    client: { id: "c", name: "Zola" },
    property: null,
    site_contact: { name: "", phone: "", mobile: "", email: "" },
    scheduled_start: null,
    scheduled_end: null,
    crew: [],
    sessions: [],
    pending_clock_events: [],
    report: null,
    notes: [],
  };
}

describe("the Add Item screen", () => {
  it("narrows the price book by family, kind and every word typed in the name or SKU", () => {
    const names = (f: Parameters<typeof searchCatalog>[1]) =>
      searchCatalog(CATALOG, f).map((i) => i.name);
    expect(names({})).toHaveLength(4);
    expect(names({ family: "Pumps" })).toEqual(["Circulator pump UPS 25", "Pump seal kit"]);
    expect(names({ text: "PUMP kit" })).toEqual(["Pump seal kit"]);
    expect(names({ text: "tv-9" })).toEqual(["Thermostatic valve"]);
    expect(names({ kind: "service" })).toEqual(["Annual boiler service"]);
    expect(names({ family: "Valves", text: "pump" })).toEqual([]);
  });

  it("reads typed serials one a line or comma-separated, each once", () => {
    expect(parseSerials(" A-1\nA-2, A-1 ,\n\n")).toEqual(["A-1", "A-2"]);
  });

  it("totals the lines tax-free in exact cents, each line rounded half-up", () => {
    expect(lineNet("3", "18.30")).toBe("54.90");
    expect(lineNet("0.5", "12.25")).toBe("6.13");
    expect(totalTaxFree([{ net: "189.00" }, { net: "54.90" }, { net: "0.10" }])).toBe("244.00");
    expect(totalTaxFree([])).toBe("0.00");
  });
});

describe("parts and take backs on the phone", () => {
  it("shows an added part, a take back, its edit and each delete at once, each once", () => {
    let j = job();
    const part = {
      id: "x1",
      item_id: "p2",
      family: "Pumps",
      name: "Pump seal kit",
      kind: "part",
      quantity: "2",
      unit_price: "12.50",
      net: "25.00",
      serials: [],
    };
    j = applyEffect(j, { kind: "part", part }, "e1");
    j = applyEffect(j, { kind: "part", part }, "e1"); // replayed: still once
    expect(j.parts?.items.map((p) => p.id)).toEqual(["x1"]);
    const takeBack = { id: "t1", serial: "OLD-1", item_id: "p1", condition: "ok" as const };
    j = applyEffect(j, { kind: "take-back", takeBack }, "e2");
    j = applyEffect(j, { kind: "take-back", takeBack }, "e2");
    j = applyEffect(
      j,
      { kind: "take-back-edit", id: "t1", condition: "needs_repair", itemId: "p1" },
      "e3",
    );
    expect(j.parts?.take_backs).toEqual([{ ...takeBack, condition: "needs_repair" }]);
    j = applyEffect(j, { kind: "take-back-removed", id: "t1" }, "e4");
    j = applyEffect(j, { kind: "part-removed", id: "x1" }, "e5");
    expect(j.parts).toEqual({ items: [], take_backs: [] });
  });
});

describe("a delete in the outbox", () => {
  let db: Db;
  let server: FakeServer;
  let n = 0;
  beforeEach(async () => {
    n += 1;
    db = await Db.open(indexedDB, `parts-${n}`);
    server = new FakeServer();
  });
  afterEach(() => db.close());

  it("is done when a resend finds the record already gone (404), and other 404s are refused", async () => {
    server.answers.push((r) =>
      r.method === "DELETE" || r.path === "/b" ? { status: 404, body: {} } : null,
    );
    for (const [seq, method, path] of [
      [1, "DELETE", "/jobs/j/parts/x1"],
      [2, "POST", "/b"],
    ] as const) {
      await db.put("outbox", {
        id: String(seq),
        seq,
        jobId: "j",
        method,
        path,
        body: undefined,
        recordedAt: "",
        label: path,
        effect: { kind: "part-removed", id: "x1" },
        state: "waiting",
      });
    }
    expect(await push(db, server.fetcher, "t")).toEqual({ sent: 1, refused: 1, stopped: null });
    expect((await entries(db)).map((e) => [e.id, e.state])).toEqual([["2", "refused"]]);
  });
});

describe("the price book on the phone", () => {
  it("is read after each sync and kept for a start without network", async () => {
    const { Engine } = await import("../src/engine");
    const db = await Db.open(indexedDB, "catalog-kept");
    const server = new FakeServer();
    server.catalog = { families: ["Pumps"], items: CATALOG.slice(0, 2) };
    const engine = new Engine(db, server.fetcher);
    await db.put("kv", "token-1", "token");
    await engine.load();
    await engine.sync();
    expect(engine.snapshot.catalog?.items.map((i) => i.id)).toEqual(["p1", "p2"]);
    server.online = false;
    const again = new Engine(db, server.fetcher);
    await again.load();
    expect(again.snapshot.catalog?.families).toEqual(["Pumps"]);
    db.close();
  });
});
