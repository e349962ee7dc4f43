// Tracking while clocked in: positions become native fixes in a local outbox
// (IndexedDB), sent as {"fixes": [...]} batches to POST /devices/{id}/fixes. A fix
// leaves the outbox only when the answer — the device's end-to-end ack, sent after
// the server's commit — names it, stored or rejected (docs/protocol.md).

import type { Db } from "./db";
import { call, type Fetcher, NetworkError } from "./http";
import { pack } from "./msgpack";

export interface Fix {
  t: number;
  lat: number;
  lon: number;
  acc?: number;
  alt?: number;
  spd?: number;
  hdg?: number;
}

/** ≤ 5,000 fixes and ≤ 256 KiB per message (docs/protocol.md); 500 is ~20 KiB. */
export const BATCH_FIXES = 500;
/** A position less accurate than this (metres) is noise for the arrival audit. */
export const WORST_ACCURACY_M = 500;

export interface Ack {
  fixes: [number, number][];
  events: string[];
  rejected: { t?: number; msg?: string; item?: number; reason: string }[];
}

export function fixFromPosition(p: GeolocationPosition): Fix | null {
  const c = p.coords;
  if (!Number.isFinite(c.latitude) || !Number.isFinite(c.longitude)) return null;
  if (c.accuracy > WORST_ACCURACY_M) return null;
  const fix: Fix = {
    t: Math.round(p.timestamp),
    lat: c.latitude,
    lon: c.longitude,
    acc: c.accuracy,
  };
  if (c.altitude !== null) fix.alt = c.altitude;
  if (c.speed !== null && Number.isFinite(c.speed)) fix.spd = c.speed;
  if (c.heading !== null && Number.isFinite(c.heading)) fix.hdg = c.heading;
  return fix;
}

/** Keep a fix for sending; a fix not newer than the newest kept is refused (the
 * protocol's rule that lets an ack's time ranges drop exactly what was sent). */
export async function keep(db: Db, fix: Fix): Promise<boolean> {
  const kept = await db.all<Fix>("fixes");
  const newest = kept.length ? kept[kept.length - 1].t : -Infinity;
  if (fix.t <= newest) return false;
  await db.put("fixes", fix);
  return true;
}

/** The fixes an ack names (stored ranges, rejected times, or a whole rejected message). */
export function acked(sent: Fix[], ack: Ack): number[] {
  if (ack.rejected.some((r) => r.msg !== undefined && (r.item ?? -1) < 0)) {
    return sent.map((f) => f.t); // the message itself was refused: nothing in it will be stored
  }
  const rejected = new Set(ack.rejected.flatMap((r) => (r.t === undefined ? [] : [r.t])));
  return sent
    .filter((f) => rejected.has(f.t) || ack.fixes.some(([a, b]) => a <= f.t && f.t <= b))
    .map((f) => f.t);
}

export interface FlushResult {
  sent: number;
  left: number;
  offline: boolean;
}

/** Send what is kept, oldest first, batch by batch, until the outbox is empty or a
 * batch is not acknowledged (network error, or any answer but the ack). */
export async function flush(
  db: Db,
  fetcher: Fetcher,
  token: string,
  deviceId: string,
): Promise<FlushResult> {
  let sent = 0;
  for (;;) {
    const kept = await db.all<Fix>("fixes");
    if (kept.length === 0) return { sent, left: 0, offline: false };
    const batch = kept.slice(0, BATCH_FIXES);
    let answer: Awaited<ReturnType<typeof call>>;
    try {
      answer = await call(fetcher, `/devices/${encodeURIComponent(deviceId)}/fixes`, {
        method: "POST",
        token,
        body: pack({ fixes: batch.map((f) => ({ ...f })) }) as BodyInit,
        contentType: "application/msgpack",
      });
    } catch (exc) {
      if (exc instanceof NetworkError) return { sent, left: kept.length, offline: true };
      throw exc;
    }
    if (answer.status !== 200) return { sent, left: kept.length, offline: false };
    const done = acked(batch, answer.body as Ack);
    await db.remove("fixes", done);
    sent += done.length;
    if (done.length < batch.length)
      return { sent, left: kept.length - done.length, offline: false };
  }
}
