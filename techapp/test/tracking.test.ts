import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Db } from "../src/db";
import type { Fetcher } from "../src/http";
import { pack } from "../src/msgpack";
import { type Ack, acked, type Fix, flush, keep } from "../src/tracking";

let db: Db;
let n = 0;

beforeEach(async () => {
  n += 1;
  db = await Db.open(indexedDB, `fixes-${n}`);
});

afterEach(() => db.close());

const fix = (t: number): Fix => ({ t, lat: 48.85, lon: 2.35, acc: 8 });

describe("msgpack", () => {
  it("encodes a native fix batch byte for byte as Python's msgpack.packb does", () => {
    // msgpack.packb({"fixes": [{"t": 1709539200000, "lat": 48.5, "lon": -1.25, "acc": 8}]})
    const expected =
      "81a566697865739184a174cf0000018e087a0c00a36c6174cb4048400000000000a36c6f6ecbbff4000000000000a361636308";
    const bytes = pack({ fixes: [{ t: 1709539200000, lat: 48.5, lon: -1.25, acc: 8 }] });
    expect(Buffer.from(bytes).toString("hex")).toBe(expected);
  });

  it("writes negative integers, long strings and booleans in their msgpack forms", () => {
    expect(Buffer.from(pack(-1)).toString("hex")).toBe("ff");
    expect(Buffer.from(pack(-200)).toString("hex")).toBe("d1ff38");
    expect(Buffer.from(pack([true, false, null])).toString("hex")).toBe("93c3c2c0");
    expect(pack("é".repeat(20)).slice(0, 2)).toEqual(new Uint8Array([0xd9, 40]));
  });
});

describe("the fix outbox", () => {
  it("refuses a fix not newer than the newest kept", async () => {
    expect(await keep(db, fix(1000))).toBe(true);
    expect(await keep(db, fix(1000))).toBe(false);
    expect(await keep(db, fix(999))).toBe(false);
    expect(await keep(db, fix(2000))).toBe(true);
  });

  it("drops exactly what the ack names, stored or rejected, and keeps the rest", () => {
    const sent = [fix(1), fix(2), fix(3), fix(4)];
    const ack: Ack = { fixes: [[1, 2]], events: [], rejected: [{ t: 4, reason: "out_of_range" }] };
    expect(acked(sent, ack)).toEqual([1, 2, 4]);
    const whole: Ack = {
      fixes: [],
      events: [],
      rejected: [{ msg: "3f1c", item: -1, reason: "bad_encoding" }],
    };
    expect(acked(sent, whole)).toEqual([1, 2, 3, 4]);
  });

  it("keeps every fix through a network error or a refused upload, and sends them once acked", async () => {
    for (const t of [1000, 2000, 3000]) await keep(db, fix(t));
    const bodies: Uint8Array[] = [];
    let mode: "offline" | "503" | "ok" = "offline";
    const fetcher: Fetcher = async (_input, init) => {
      if (mode === "offline") throw new TypeError("Failed to fetch");
      bodies.push(init?.body as Uint8Array);
      if (mode === "503") return new Response("{}", { status: 503 });
      const ack: Ack = { fixes: [[1000, 3000]], events: [], rejected: [] };
      return new Response(JSON.stringify(ack), { status: 200 });
    };
    expect(await flush(db, fetcher, "t", "dev-1")).toEqual({ sent: 0, left: 3, offline: true });
    mode = "503";
    expect(await flush(db, fetcher, "t", "dev-1")).toEqual({ sent: 0, left: 3, offline: false });
    mode = "ok";
    expect(await flush(db, fetcher, "t", "dev-1")).toEqual({ sent: 3, left: 0, offline: false });
    expect(await db.all("fixes")).toEqual([]);
    expect(bodies[1]).toEqual(
      pack({ fixes: [{ ...fix(1000) }, { ...fix(2000) }, { ...fix(3000) }] }),
    );
  });
});
