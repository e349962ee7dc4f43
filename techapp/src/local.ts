// The rules the app applies on the phone, before (or without) the server:
// an outbox entry's effect on the local copy of a job, the worked time from
// clock events, and End's rule (the server's report blockers, same messages).

import type {
  CatalogItem,
  ClockEvent,
  Condition,
  Job,
  JobParts,
  Json,
  PartLine,
  Report,
  ReportField,
  Reserve,
  TakeBackLine,
} from "./types";

/** What one outbox entry does to the job, as the phone shows it at once. */
export type Effect =
  | { kind: "clock"; event: ClockEvent; at: string; technicianId: string }
  | { kind: "fields"; fields: Record<string, { value: Json; comment?: string | null }> }
  | { kind: "signature"; role: string; signerName: string; dataUrl: string }
  | { kind: "validate"; role: string }
  | { kind: "reserve"; id: string; fieldKey: string; comment: string }
  | { kind: "reserve-status"; id: string; status: Reserve["status"] }
  | { kind: "photo"; id: string; description: string; dataUrl: string }
  | { kind: "complete" }
  | { kind: "part"; part: PartLine }
  | { kind: "part-removed"; id: string }
  | { kind: "take-back"; takeBack: TakeBackLine }
  | { kind: "take-back-edit"; id: string; condition: Condition; itemId: string | null }
  | { kind: "take-back-removed"; id: string }
  | { kind: "declined"; technicianId: string }
  | { kind: "rescheduled"; start: string; end: string }
  | { kind: "duplicated" };

function withParts(job: Job, change: (parts: JobParts) => JobParts): Job {
  return { ...job, parts: change(job.parts ?? { items: [], take_backs: [] }) };
}

function withReport(job: Job, change: (report: Report) => Report): Job {
  return job.report === null ? job : { ...job, report: change(job.report) };
}

/** The job after ``effect`` (a new object; the input is not changed). */
export function applyEffect(job: Job, effect: Effect, entryId: string): Job {
  switch (effect.kind) {
    case "clock": {
      const already = job.pending_clock_events.some((p) => p.event_id === entryId);
      const placed = job.sessions.some((s) => s.evidence.some((e) => e.event_id === entryId));
      if (already || placed) return job;
      const status =
        effect.event === "clock_in" && job.status === "scheduled" ? "in_progress" : job.status;
      return {
        ...job,
        status,
        pending_clock_events: [
          ...job.pending_clock_events,
          {
            technician_id: effect.technicianId,
            event: effect.event,
            at: effect.at,
            event_id: entryId,
          },
        ],
      };
    }
    case "fields":
      return withReport(job, (report) => ({
        ...report,
        families: report.families.map((family) => ({
          ...family,
          fields: family.fields.map((field) => {
            const change = effect.fields[field.key];
            if (change === undefined) return field;
            return {
              ...field,
              value: change.value,
              comment: change.comment === undefined ? field.comment : change.comment,
            };
          }),
        })),
      }));
    case "signature":
      return withReport(job, (report) => ({
        ...report,
        signatures: {
          ...report.signatures,
          [effect.role]: {
            role: effect.role,
            signer_name: effect.signerName,
            image: { data_url: effect.dataUrl },
            validated: false,
          },
        },
      }));
    case "validate":
      return withReport(job, (report) => {
        const signature = report.signatures[effect.role];
        if (!signature) return report;
        return {
          ...report,
          signatures: { ...report.signatures, [effect.role]: { ...signature, validated: true } },
        };
      });
    case "reserve":
      return withReport(job, (report) =>
        report.reserves.some((r) => r.id === effect.id)
          ? report
          : {
              ...report,
              reserves: [
                ...report.reserves,
                {
                  id: effect.id,
                  field_key: effect.fieldKey,
                  comment: effect.comment,
                  status: "unresolved",
                },
              ],
            },
      );
    case "reserve-status":
      return withReport(job, (report) => ({
        ...report,
        reserves: report.reserves.map((r) =>
          r.id === effect.id ? { ...r, status: effect.status } : r,
        ),
      }));
    case "photo":
      return withReport(job, (report) =>
        report.attachments.some((a) => a.id === effect.id)
          ? report
          : {
              ...report,
              attachments: [
                ...report.attachments,
                {
                  id: effect.id,
                  kind: "photo",
                  description: effect.description,
                  barcode: null,
                  image: { data_url: effect.dataUrl },
                },
              ],
            },
      );
    case "complete":
      return { ...job, status: "completed" };
    case "part":
      return withParts(job, (parts) =>
        parts.items.some((p) => p.id === effect.part.id)
          ? parts
          : { ...parts, items: [...parts.items, effect.part] },
      );
    case "part-removed":
      return withParts(job, (parts) => ({
        ...parts,
        items: parts.items.filter((p) => p.id !== effect.id),
      }));
    case "take-back":
      return withParts(job, (parts) =>
        parts.take_backs.some((b) => b.id === effect.takeBack.id)
          ? parts
          : { ...parts, take_backs: [...parts.take_backs, effect.takeBack] },
      );
    case "take-back-edit":
      return withParts(job, (parts) => ({
        ...parts,
        take_backs: parts.take_backs.map((b) =>
          b.id === effect.id ? { ...b, condition: effect.condition, item_id: effect.itemId } : b,
        ),
      }));
    case "declined": {
      const crew = job.crew.filter((c) => c.technician_id !== effect.technicianId);
      const managed = crew.some((c) => c.role === "job_manager");
      return { ...job, crew, status: managed ? job.status : "pending" };
    }
    case "rescheduled":
      return { ...job, scheduled_start: effect.start, scheduled_end: effect.end };
    case "duplicated": // the copy is the server's to number: it arrives with the next pull
      return job;
    case "take-back-removed":
      return withParts(job, (parts) => ({
        ...parts,
        take_backs: parts.take_backs.filter((b) => b.id !== effect.id),
      }));
  }
}

/** Money "12.50" as cents (the API's money strings have two decimals at most). */
function cents(money: string): number {
  const [whole, fraction = ""] = money.trim().split(".");
  const sign = whole.startsWith("-") ? -1 : 1;
  return sign * (Math.abs(Number(whole)) * 100 + Number(fraction.padEnd(2, "0").slice(0, 2)));
}

function money(total: number): string {
  const sign = total < 0 ? "-" : "";
  const abs = Math.abs(total);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** A line's net: quantity × unit price, rounded half-up to cents (as the server). */
export function lineNet(quantity: string, unitPrice: string): string {
  const q = Number(quantity);
  return money(Math.round(q * cents(unitPrice) + Number.EPSILON));
}

/** The job's parts and services total, tax-free (sum of the lines' nets). */
export function totalTaxFree(parts: readonly Pick<PartLine, "net">[]): string {
  return money(parts.reduce((sum, p) => sum + cents(p.net), 0));
}

/** The Add Item screen's search: a family, then words in the name or SKU, and kind. */
export function searchCatalog(
  items: readonly CatalogItem[],
  filter: { family?: string; text?: string; kind?: CatalogItem["kind"] | "" },
): CatalogItem[] {
  const words = (filter.text ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  return items.filter((item) => {
    if (filter.family && item.family !== filter.family) return false;
    if (filter.kind && item.kind !== filter.kind) return false;
    const hay = `${item.name} ${item.sku ?? ""}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Serials typed for a serialized part: one per line or comma, trimmed, once each. */
export function parseSerials(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

/** Whether an answer satisfies a mandatory field (jobs_domain.report_template.is_filled). */
export function isFilled(field: Pick<ReportField, "type" | "value">): boolean {
  const value = field.value;
  if (value === null || value === undefined) return false;
  if (field.type === "checkbox") return value === true;
  if (typeof value === "string") return value.trim() !== "";
  return true;
}

/** Everything that stops End, worded as the server's 409 (jobs_domain.report.blockers). */
export function blockers(report: Report | null): string[] {
  if (report === null) return [];
  const out: string[] = [];
  for (const family of report.families) {
    for (const field of family.fields) {
      if (field.mandatory && !isFilled(field))
        out.push(`${family.name} › ${field.label} is mandatory`);
    }
  }
  for (const role of [...(report.template.required_signatures ?? [])].sort()) {
    const signature = report.signatures[role];
    if (!signature) out.push(`the ${role}'s signature is missing`);
    else if (!signature.validated) out.push(`the ${role}'s signature is not validated`);
  }
  return out;
}

/** What a refused End listed that still blocks now (a filled field leaves the list). */
export function stillBlocking(refused: readonly string[], report: Report | null): string[] {
  const now = new Set(blockers(report));
  return refused.filter((message) => now.has(message));
}

export type ClockState = "out" | "running" | "paused";

export interface Worked {
  state: ClockState;
  /** Milliseconds worked up to ``now`` (pauses excluded). */
  workedMs: number;
  /** When the current running stretch began (for a ticking display). */
  runningSince: number | null;
}

/** One technician's worked time on a job from all their clock events, in time order
 * (the server's rebuild, services.sessions: the order of arrival never matters). */
export function worked(job: Job, technicianId: string, now: number): Worked {
  const seen = new Set<string>();
  const events: { event: ClockEvent; at: number }[] = [];
  const add = (event: ClockEvent, at: string, id: string | null) => {
    if (id !== null) {
      if (seen.has(id)) return;
      seen.add(id);
    }
    events.push({ event, at: Date.parse(at) });
  };
  for (const session of job.sessions) {
    if (session.technician_id !== technicianId) continue;
    for (const e of session.evidence) add(e.kind, e.at, e.event_id);
  }
  for (const p of job.pending_clock_events) {
    if (p.technician_id === technicianId) add(p.event, p.at, p.event_id);
  }
  events.sort((a, b) => a.at - b.at);
  let state: ClockState = "out";
  let since: number | null = null;
  let total = 0;
  for (const { event, at } of events) {
    if ((event === "clock_in" && state === "out") || (event === "resume" && state === "paused")) {
      state = "running";
      since = at;
    } else if (event === "pause" && state === "running" && since !== null) {
      total += at - since;
      state = "paused";
      since = null;
    } else if (event === "clock_out" && state !== "out") {
      if (state === "running" && since !== null) total += at - since;
      state = "out";
      since = null;
    }
  }
  const running = state === "running" && since !== null ? Math.max(0, now - since) : 0;
  return { state, workedMs: total + running, runningSince: state === "running" ? since : null };
}

/** ``1:05:09`` */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
