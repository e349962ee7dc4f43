// A job's own actions for the technician (help page, step 1): decline, reschedule,
// duplicate — each shown only when the company settings allow it (/me's ``may``),
// and each through the outbox like every other write.

import { useState } from "preact/hooks";
import type { Engine } from "./engine";
import { isoToZoned, zonedToIso } from "./format";
import { Labelled } from "./inputs";
import type { Job, Me } from "./types";

const DECLINABLE = new Set(["pending", "scheduled"]);
const RESCHEDULABLE = new Set(["pending", "scheduled", "on_hold"]);

type Open = "decline" | "reschedule" | null;

export function JobActions({
  engine,
  job,
  me,
  zone,
}: {
  engine: Engine;
  job: Job;
  me: Me | null;
  zone: string;
}) {
  const [open, setOpen] = useState<Open>(null);
  const [reason, setReason] = useState("");
  const [start, setStart] = useState(
    job.scheduled_start ? isoToZoned(job.scheduled_start, zone) : "",
  );
  const [end, setEnd] = useState(job.scheduled_end ? isoToZoned(job.scheduled_end, zone) : "");
  const [duplicated, setDuplicated] = useState(false);
  const may = me?.may;
  const technician = me?.technician_id;
  if (!may || !technician) return null;
  const decline = may.decline && DECLINABLE.has(job.status);
  const reschedule = may.reschedule && RESCHEDULABLE.has(job.status);
  if (!decline && !reschedule && !may.duplicate) return null;
  const sendDecline = async () => {
    await engine.record(
      job,
      `${job.number}: decline`,
      "POST",
      `/jobs/${job.id}/decline`,
      { reason: reason.trim() },
      { kind: "declined", technicianId: technician },
    );
    setOpen(null);
    setReason("");
  };
  const sendReschedule = async () => {
    const body = {
      start: zonedToIso(start, zone),
      end: zonedToIso(end, zone),
      ...(reason.trim() ? { reason: reason.trim() } : {}),
    };
    await engine.record(
      job,
      `${job.number}: reschedule`,
      "POST",
      `/jobs/${job.id}/reschedule`,
      body,
      {
        kind: "rescheduled",
        start: body.start,
        end: body.end,
      },
    );
    setOpen(null);
    setReason("");
  };
  const sendDuplicate = async () => {
    await engine.record(
      job,
      `${job.number}: duplicate`,
      "POST",
      `/jobs/${job.id}/duplicate`,
      undefined,
      {
        kind: "duplicated",
      },
    );
    setDuplicated(true);
  };
  return (
    <div class="job-actions" id="job-actions">
      <div class="buttons">
        {decline && (
          <button
            type="button"
            id="decline"
            onClick={() => setOpen(open === "decline" ? null : "decline")}
          >
            Decline
          </button>
        )}
        {reschedule && (
          <button
            type="button"
            id="reschedule"
            onClick={() => setOpen(open === "reschedule" ? null : "reschedule")}
          >
            Reschedule
          </button>
        )}
        {may.duplicate && (
          <button
            type="button"
            id="duplicate"
            disabled={duplicated}
            onClick={() => void sendDuplicate()}
          >
            Duplicate
          </button>
        )}
      </div>
      {duplicated && (
        <p class="muted" id="duplicated">
          A copy is made when this syncs; it then shows in your jobs.
        </p>
      )}
      {open === "reschedule" && (
        <div class="chosen">
          <Labelled
            label="Start"
            id="reschedule-start"
            type="datetime-local"
            value={start}
            onInput={setStart}
          />
          <Labelled
            label="End"
            id="reschedule-end"
            type="datetime-local"
            value={end}
            onInput={setEnd}
          />
        </div>
      )}
      {open && (
        <div class="chosen">
          <Labelled
            label={open === "decline" ? "Why do you decline?" : "Why (optional)"}
            id="action-reason"
            value={reason}
            onInput={setReason}
          />
          <button
            type="button"
            class="primary"
            id="action-confirm"
            disabled={open === "decline" ? !reason.trim() : !(start && end && start < end)}
            onClick={() => void (open === "decline" ? sendDecline() : sendReschedule())}
          >
            {open === "decline" ? "Decline the job" : "Move the job"}
          </button>
        </div>
      )}
    </div>
  );
}
