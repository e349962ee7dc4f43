import { describe, expect, it } from "vitest";
import { isoToZoned, zonedToIso } from "../src/format";
import { applyEffect } from "../src/local";
import type { Job } from "../src/types";

function job(): Job {
  return {
    id: "job-1",
    number: "J-000001",
    status: "scheduled",
    description: "",
    client: { id: "c", name: "Zola" },
    property: null,
    site_contact: { name: "", phone: "", mobile: "", email: "" },
    scheduled_start: "2026-01-05T08:00:00Z",
    scheduled_end: "2026-01-05T10:00:00Z",
    crew: [{ technician_id: "t1", name: "Tess", role: "job_manager" }],
    sessions: [],
    pending_clock_events: [],
    report: null,
    notes: [],
  };
}

describe("a reschedule typed on the phone", () => {
  it("reads the wall clock in the company's zone, summer and winter", () => {
    expect(zonedToIso("2026-01-05T14:30", "Europe/Paris")).toBe("2026-01-05T13:30:00.000Z");
    expect(zonedToIso("2026-07-05T14:30", "Europe/Paris")).toBe("2026-07-05T12:30:00.000Z");
    expect(zonedToIso("2026-07-05T14:30", "America/New_York")).toBe("2026-07-05T18:30:00.000Z");
    expect(isoToZoned("2026-07-05T12:30:00Z", "Europe/Paris")).toBe("2026-07-05T14:30");
  });

  it("moves the planned window at once", () => {
    const moved = applyEffect(
      job(),
      { kind: "rescheduled", start: "2026-01-06T08:00:00Z", end: "2026-01-06T09:00:00Z" },
      "e1",
    );
    expect([moved.scheduled_start, moved.scheduled_end]).toEqual([
      "2026-01-06T08:00:00Z",
      "2026-01-06T09:00:00Z",
    ]);
  });
});

describe("declining on the phone", () => {
  it("takes me off the crew, and a job left without its manager goes Pending", () => {
    const j = job();
    j.crew.push({ technician_id: "t2", name: "Alex", role: "auxiliary" });
    const byAux = applyEffect(j, { kind: "declined", technicianId: "t2" }, "e1");
    expect([byAux.status, byAux.crew.map((c) => c.technician_id)]).toEqual(["scheduled", ["t1"]]);
    const byManager = applyEffect(j, { kind: "declined", technicianId: "t1" }, "e2");
    expect(byManager.status).toBe("pending");
  });
});
