// The screens: log in, my jobs, a job (description, report), and what waits to sync.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Engine, type HistoryEntry, type Snapshot, SYNC_EVERY_MS, uuid } from "./engine";
import { addressLines, clock, dayKey, navigationLink, when } from "./format";
import { problemLines } from "./http";
import { blockers, formatDuration, isFilled, stillBlocking, worked } from "./local";
import type { Entry } from "./outbox";
import { barcodeDetector, readCode } from "./barcode";
import { PartsView } from "./parts";
import { JobActions } from "./actions";
import type { Job, Json, Report, ReportField, Reserve } from "./types";

function useSnapshot(engine: Engine): Snapshot {
  const [snapshot, setSnapshot] = useState(engine.snapshot);
  useEffect(() => engine.subscribe(setSnapshot), [engine]);
  return snapshot;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

const zoneOf = (s: Snapshot) => s.me?.time_zone ?? "UTC";

export function App({ engine }: { engine: Engine }) {
  const snapshot = useSnapshot(engine);
  const hash = useHash();
  useSyncLoop(engine);
  useTracking(engine, snapshot);
  if (!snapshot.token) return <Login engine={engine} snapshot={snapshot} />;
  const match = /^#\/job\/([^/]+)$/.exec(hash);
  return (
    <div class="app">
      {match ? (
        <JobScreen engine={engine} snapshot={snapshot} jobId={decodeURIComponent(match[1])} />
      ) : (
        <Jobs engine={engine} snapshot={snapshot} />
      )}
      <SyncPanel engine={engine} snapshot={snapshot} />
    </div>
  );
}

function useSyncLoop(engine: Engine): void {
  useEffect(() => {
    const sync = () => void engine.sync();
    sync();
    const timer = setInterval(sync, SYNC_EVERY_MS);
    window.addEventListener("online", sync);
    return () => {
      clearInterval(timer);
      window.removeEventListener("online", sync);
    };
  }, [engine]);
}

/** Positions while the technician is clocked in (running) on any job. */
function useTracking(engine: Engine, snapshot: Snapshot): void {
  const technician = snapshot.me?.technician_id ?? null;
  const clockedIn =
    technician !== null &&
    snapshot.jobs.some((j) => {
      const job = engine.job(j.id);
      return job !== undefined && worked(job, technician, Date.now()).state === "running";
    });
  useEffect(() => {
    if (!clockedIn || !("geolocation" in navigator)) return;
    const watch = navigator.geolocation.watchPosition(
      (p) => void engine.position(p),
      (err) => console.warn("no position", err.message),
      { enableHighAccuracy: true, maximumAge: 5_000, timeout: 60_000 },
    );
    return () => navigator.geolocation.clearWatch(watch);
  }, [engine, clockedIn]);
}

// -- log in ------------------------------------------------------------------------------

function Login({ engine, snapshot }: { engine: Engine; snapshot: Snapshot }) {
  const [email, setEmail] = useState(snapshot.me?.email ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(snapshot.lastError);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(await engine.login(email.trim(), password));
    setBusy(false);
  };
  return (
    <form class="login" onSubmit={submit}>
      <h1>crewtrack</h1>
      <p class="muted">Technician app: your jobs, with or without signal.</p>
      {error && (
        <p class="error" id="login-error" role="alert">
          {error}
        </p>
      )}
      <label for="login-email">E-mail</label>
      <input
        id="login-email"
        type="email"
        autocomplete="username"
        value={email}
        onInput={(e) => setEmail(e.currentTarget.value)}
        required
      />
      <label for="login-password">Password</label>
      <input
        id="login-password"
        type="password"
        autocomplete="current-password"
        value={password}
        onInput={(e) => setPassword(e.currentTarget.value)}
        required
      />
      <button id="login-submit" class="primary" type="submit" disabled={busy}>
        Log in
      </button>
    </form>
  );
}

// -- my jobs -----------------------------------------------------------------------------

const OPEN = new Set(["scheduled", "in_progress", "on_hold", "pending"]);

function Jobs({ engine, snapshot }: { engine: Engine; snapshot: Snapshot }) {
  const zone = zoneOf(snapshot);
  const today = dayKey(new Date().toISOString(), zone);
  const jobs = snapshot.jobs
    .map((j) => engine.job(j.id) as Job)
    .filter(
      (j) => OPEN.has(j.status) || (j.scheduled_start && dayKey(j.scheduled_start, zone) === today),
    )
    .sort((a, b) => (a.scheduled_start ?? "9").localeCompare(b.scheduled_start ?? "9"));
  const isToday = (j: Job) =>
    j.status === "in_progress" ||
    j.status === "on_hold" ||
    (j.scheduled_start !== null && dayKey(j.scheduled_start, zone) <= today);
  const todays = jobs.filter(isToday);
  const upcoming = jobs.filter((j) => !isToday(j));
  return (
    <main>
      <header class="bar">
        <h1>My jobs</h1>
        <span class="who">{snapshot.me?.name}</span>
        <button type="button" class="link" id="logout" onClick={() => void engine.logout()}>
          Log out
        </button>
      </header>
      <section>
        <h2>Today</h2>
        {todays.length === 0 && <p class="muted">No job today.</p>}
        {todays.map((j) => (
          <JobCard job={j} zone={zone} key={j.id} />
        ))}
      </section>
      <section>
        <h2>Upcoming</h2>
        {upcoming.length === 0 && <p class="muted">Nothing planned yet.</p>}
        {upcoming.map((j) => (
          <JobCard job={j} zone={zone} key={j.id} />
        ))}
      </section>
    </main>
  );
}

const STATUS_NAMES: Record<string, string> = {
  pending: "Pending",
  scheduled: "Scheduled",
  in_progress: "In progress",
  on_hold: "On hold",
  completed: "Completed",
  cancelled: "Cancelled",
};

function JobCard({ job, zone }: { job: Job; zone: string }) {
  return (
    <a class="card job-card" href={`#/job/${encodeURIComponent(job.id)}`} data-job={job.number}>
      <div class="card-top">
        <strong>{job.number}</strong>
        <span class={`status status-${job.status}`}>{STATUS_NAMES[job.status] ?? job.status}</span>
      </div>
      <div>{when(job.scheduled_start, zone)}</div>
      <div class="client">{job.client.name}</div>
      <div class="muted">{addressLines(job.property?.address).join(", ")}</div>
      <div class="desc">{job.description}</div>
    </a>
  );
}

// -- a job ------------------------------------------------------------------------------

type Tab = "description" | "report" | "parts";

function JobScreen({
  engine,
  snapshot,
  jobId,
}: {
  engine: Engine;
  snapshot: Snapshot;
  jobId: string;
}) {
  const [tab, setTab] = useState<Tab>("description");
  const job = engine.job(jobId);
  if (!job) {
    return (
      <main>
        <header class="bar">
          <a href="#/" class="back">
            ‹ Jobs
          </a>
        </header>
        <p class="muted">This job is not on this phone (yet).</p>
      </main>
    );
  }
  const me = snapshot.me;
  const member = job.crew.find((c) => c.technician_id === me?.technician_id);
  const refused = snapshot.outbox.filter((e) => e.jobId === job.id && e.state === "refused");
  return (
    <main>
      <header class="bar">
        <a href="#/" class="back" id="back">
          ‹ Jobs
        </a>
        <h1>{job.number}</h1>
        <span class={`status status-${job.status}`} id="job-status">
          {STATUS_NAMES[job.status] ?? job.status}
        </span>
      </header>
      <ClockBar
        engine={engine}
        snapshot={snapshot}
        job={job}
        manager={member?.role === "job_manager"}
      />
      {refused.map((e) => (
        <Refusal entry={e} engine={engine} key={e.id} />
      ))}
      <nav class="tabs">
        <button
          type="button"
          class={tab === "description" ? "on" : ""}
          onClick={() => setTab("description")}
        >
          Description
        </button>
        <button
          type="button"
          id="tab-report"
          class={tab === "report" ? "on" : ""}
          onClick={() => setTab("report")}
        >
          Report
        </button>
        <button
          type="button"
          id="tab-parts"
          class={tab === "parts" ? "on" : ""}
          onClick={() => setTab("parts")}
        >
          Parts
        </button>
      </nav>
      {tab === "description" && (
        <JobActions engine={engine} job={job} me={snapshot.me} zone={zoneOf(snapshot)} />
      )}
      {tab === "description" && (
        <Description
          engine={engine}
          job={job}
          zone={zoneOf(snapshot)}
          role={member?.role ?? null}
        />
      )}
      {tab === "report" && <ReportView engine={engine} job={job} />}
      {tab === "parts" && <PartsView engine={engine} snapshot={snapshot} job={job} />}
    </main>
  );
}

function Description({
  engine,
  job,
  zone,
  role,
}: {
  engine: Engine;
  job: Job;
  zone: string;
  role: string | null;
}) {
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const [linkError, setLinkError] = useState(false);
  useEffect(() => {
    void engine.history(job.id).then(setHistory);
  }, [engine, job.id]);
  const contact = job.site_contact;
  const address = addressLines(job.property?.address);
  const openOnline = async () => {
    const url = await engine.onlineLink(job.id);
    setLinkError(url === null);
    setLink(url);
  };
  return (
    <div class="panel" id="description">
      <dl>
        <dt>Planned</dt>
        <dd id="planned">
          {when(job.scheduled_start, zone)}
          {job.scheduled_end ? ` – ${clock(job.scheduled_end, zone)}` : ""}
        </dd>
        <dt>Job</dt>
        <dd>{job.description}</dd>
        <dt>Customer</dt>
        <dd>{job.client.name}</dd>
        <dt>Address</dt>
        <dd>
          {address.join(", ") || "—"}
          {job.property && (
            <a class="action" id="navigate" href={navigationLink(job.property)}>
              Navigate
            </a>
          )}
        </dd>
        <dt>Contact</dt>
        <dd>
          {contact.name || "—"}
          <div class="contact-links">
            {contact.phone && (
              <a class="action" href={`tel:${contact.phone}`}>
                Call {contact.phone}
              </a>
            )}
            {contact.mobile && (
              <a class="action" href={`tel:${contact.mobile}`}>
                Mobile {contact.mobile}
              </a>
            )}
            {contact.email && (
              <a class="action" href={`mailto:${contact.email}`}>
                E-mail {contact.email}
              </a>
            )}
          </div>
        </dd>
        <dt>Job number</dt>
        <dd>{job.number}</dd>
        <dt>Online view</dt>
        <dd>
          {link ? (
            <a href={link} target="_blank" rel="noreferrer" id="online-link">
              Open the customer's view
            </a>
          ) : (
            <button type="button" class="link" onClick={() => void openOnline()}>
              Get the online view link
            </button>
          )}
          {linkError && <span class="muted"> (needs the network)</span>}
        </dd>
        <dt>Crew</dt>
        <dd>
          {job.crew.map((c) => (
            <div key={c.technician_id}>
              {c.name} — {c.role === "job_manager" ? "Job Manager" : "Auxiliary"}
            </div>
          ))}
        </dd>
        <dt>My role</dt>
        <dd id="my-role">
          {role === "job_manager" ? "Job Manager" : role === "auxiliary" ? "Auxiliary" : "—"}
        </dd>
      </dl>
      <h3>History</h3>
      {history === null ? (
        <p class="muted">The history shows when the phone is online.</p>
      ) : (
        <ul class="history">
          {history.map((h) => (
            <li key={`${h.at}-${h.action}`}>
              <span class="muted">{when(h.at, zone)}</span> {h.action.replaceAll("_", " ")}
              {h.actor_name ? ` — ${h.actor_name}` : ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// -- start / pause / end ------------------------------------------------------------------

function ClockBar({
  engine,
  snapshot,
  job,
  manager,
}: {
  engine: Engine;
  snapshot: Snapshot;
  job: Job;
  manager: boolean;
}) {
  const now = useNow(1000);
  const [confirming, setConfirming] = useState(false);
  const [refused, setRefusal] = useState<string[]>([]);
  const refusal = stillBlocking(refused, job.report);
  const technician = snapshot.me?.technician_id;
  if (!technician) return null;
  const time = worked(job, technician, now);
  const done = job.status === "completed" || job.status === "cancelled";
  const event = (kind: "clock_in" | "pause" | "resume" | "clock_out", label: string) => {
    const at = new Date().toISOString();
    return engine.record(
      job,
      label,
      "POST",
      `/jobs/${job.id}/sessions`,
      {
        event: kind,
        at,
        ...(snapshot.me?.devices[0] ? { device_id: snapshot.me.devices[0].id } : {}),
      },
      { kind: "clock", event: kind, at, technicianId: technician },
    );
  };
  const end = async () => {
    const missing = blockers(job.report);
    setRefusal(missing);
    if (missing.length) return;
    if (time.state !== "out") await event("clock_out", `${job.number}: end (clock out)`);
    await engine.record(
      job,
      `${job.number}: complete the job`,
      "POST",
      `/jobs/${job.id}/complete`,
      undefined,
      {
        kind: "complete",
      },
    );
  };
  return (
    <div class="clock">
      <div class="duration" id="duration">
        {formatDuration(time.workedMs)}
      </div>
      <div class="buttons">
        {!done && time.state === "out" && !confirming && (
          <button type="button" class="primary" id="start" onClick={() => setConfirming(true)}>
            Start
          </button>
        )}
        {!done && time.state === "out" && confirming && (
          <>
            <button
              type="button"
              class="primary"
              id="start-confirm"
              onClick={() => {
                setConfirming(false);
                void event("clock_in", `${job.number}: start (clock in)`);
              }}
            >
              Start now
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </>
        )}
        {!done && time.state === "running" && (
          <button
            type="button"
            id="pause"
            onClick={() => void event("pause", `${job.number}: pause`)}
          >
            Pause
          </button>
        )}
        {!done && time.state === "paused" && (
          <button
            type="button"
            id="resume"
            onClick={() => void event("resume", `${job.number}: resume`)}
          >
            Resume
          </button>
        )}
        {!done && time.state !== "out" && !manager && (
          <button
            type="button"
            id="clock-out"
            onClick={() => void event("clock_out", `${job.number}: clock out`)}
          >
            Clock out
          </button>
        )}
        {!done &&
          manager &&
          (time.state !== "out" || job.status === "in_progress" || job.status === "on_hold") && (
            <button type="button" class="danger" id="end" onClick={() => void end()}>
              End
            </button>
          )}
      </div>
      {refusal.length > 0 && (
        <div class="refusal" id="end-refused" role="alert">
          <strong>The job cannot end yet:</strong>
          <ul>
            {refusal.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function Refusal({ entry, engine }: { entry: Entry; engine: Engine }) {
  return (
    <div class="refusal server-refusal" role="alert">
      <strong>
        The server refused “{entry.label}” ({entry.problem?.status}):
      </strong>
      <ul>
        {(entry.problem ? problemLines(entry.problem) : []).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <button type="button" class="link" onClick={() => void engine.dismiss(entry.id)}>
        Dismiss
      </button>
    </div>
  );
}

// -- the report ---------------------------------------------------------------------------

function ReportView({ engine, job }: { engine: Engine; job: Job }) {
  const report = job.report;
  if (!report) return <p class="panel muted">This job has no report.</p>;
  const readOnly = report.locked || job.status === "completed";
  const setField = (field: ReportField, value: Json, comment?: string | null) =>
    engine.record(
      job,
      `${job.number}: ${field.label}`,
      "PATCH",
      `/jobs/${job.id}/report/fields`,
      {
        recorded_at: new Date().toISOString(),
        fields: { [field.key]: { value, comment: comment ?? field.comment } },
      },
      { kind: "fields", fields: { [field.key]: { value, comment: comment ?? field.comment } } },
    );
  return (
    <div class="panel" id="report">
      <h2>{report.template.name}</h2>
      {report.families.map((family) => {
        const complete = family.fields.every((f) => !f.mandatory || isFilled(f));
        return (
          <details
            class={`family${family.has_mandatory ? " mandatory" : ""}`}
            key={family.key}
            open
          >
            <summary>
              {family.name}
              {family.has_mandatory && <span class="badge">{complete ? "done" : "mandatory"}</span>}
            </summary>
            {family.fields.map((field) => (
              <FieldView
                key={field.key}
                field={field}
                report={report}
                readOnly={readOnly}
                onValue={(v, c) => void setField(field, v, c)}
                engine={engine}
                job={job}
              />
            ))}
          </details>
        );
      })}
      <Photos engine={engine} job={job} report={report} readOnly={readOnly} />
      <h3>Signatures</h3>
      {["customer", "technician"].map((role) => (
        <SignatureBlock
          key={role}
          engine={engine}
          job={job}
          report={report}
          role={role}
          readOnly={readOnly}
        />
      ))}
    </div>
  );
}

function FieldView({
  field,
  report,
  readOnly,
  onValue,
  engine,
  job,
}: {
  field: ReportField;
  report: Report;
  readOnly: boolean;
  onValue: (value: Json, comment?: string | null) => void;
  engine: Engine;
  job: Job;
}) {
  const [commenting, setCommenting] = useState(Boolean(field.comment));
  const [reserving, setReserving] = useState(false);
  const id = `field-${field.key}`;
  const missing = field.mandatory && !isFilled(field);
  const reserves = report.reserves.filter((r) => r.field_key === field.key);
  return (
    <div class={`field${missing ? " missing" : ""}`} data-field={field.key}>
      <label for={id} class="field-label">
        {field.label}
        {field.mandatory && <span class="req"> *</span>}
      </label>
      <FieldInput id={id} field={field} readOnly={readOnly} onValue={onValue} />
      {!readOnly && (
        <div class="field-actions">
          <button type="button" class="link" onClick={() => setCommenting(!commenting)}>
            Comment
          </button>
          <button
            type="button"
            class="link"
            id={`reserve-${field.key}`}
            onClick={() => setReserving(!reserving)}
          >
            Reserve
          </button>
        </div>
      )}
      {commenting && (
        <DraftInput
          class="comment"
          id={`comment-${field.key}`}
          placeholder="Comment"
          value={field.comment ?? ""}
          disabled={readOnly}
          onCommit={(v) => onValue(field.value, v)}
        />
      )}
      {reserving && (
        <ReserveForm engine={engine} job={job} field={field} done={() => setReserving(false)} />
      )}
      {reserves.map((r) => (
        <ReserveView key={r.id} engine={engine} job={job} reserve={r} readOnly={readOnly} />
      ))}
    </div>
  );
}

function FieldInput({
  id,
  field,
  readOnly,
  onValue,
}: {
  id: string;
  field: ReportField;
  readOnly: boolean;
  onValue: (value: Json) => void;
}) {
  const text = (v: Json) => (v === null || v === undefined ? "" : String(v));
  switch (field.type) {
    case "checkbox":
      return (
        <input
          id={id}
          type="checkbox"
          checked={field.value === true}
          disabled={readOnly}
          onChange={(e) => onValue(e.currentTarget.checked)}
        />
      );
    case "validation":
      return (
        <div class="yes-no" id={id}>
          {[true, false].map((answer) => (
            <button
              type="button"
              key={String(answer)}
              class={field.value === answer || field.value === (answer ? "yes" : "no") ? "on" : ""}
              disabled={readOnly}
              onClick={() => onValue(answer)}
            >
              {answer ? "Yes" : "No"}
            </button>
          ))}
        </div>
      );
    case "signature":
      return (
        <SignaturePad
          idPrefix={id}
          name={
            typeof field.value === "object" && field.value && "name" in field.value
              ? String(field.value.name)
              : ""
          }
          signed={field.value !== null}
          readOnly={readOnly}
          onSign={(name, dataUrl) => onValue({ name, image: base64Of(dataUrl) })}
        />
      );
    case "date":
    case "time":
      return (
        <DraftInput
          id={id}
          type={field.type}
          value={text(field.value)}
          disabled={readOnly}
          onCommit={(v) => onValue(v === "" ? null : v)}
        />
      );
    case "barcode":
      return (
        <BarcodeInput
          id={id}
          value={text(field.value)}
          readOnly={readOnly}
          onValue={(v) => onValue(v.trim() === "" ? null : v.trim())}
        />
      );
    default: {
      return (
        <DraftInput
          id={id}
          type="text"
          inputMode={field.type === "number" ? "decimal" : "text"}
          value={text(field.value)}
          disabled={readOnly}
          onCommit={(v) => onValue(v.trim() === "" ? null : v)}
        />
      );
    }
  }
}

/** A barcode field: scan it with the camera where the browser reads codes, else type it. */
function BarcodeInput({
  id,
  value,
  readOnly,
  onValue,
}: {
  id: string;
  value: string;
  readOnly: boolean;
  onValue: (value: string) => void;
}) {
  const [detector] = useState(() => barcodeDetector());
  const [missed, setMissed] = useState(false);
  const scan = async (file: File | undefined) => {
    if (!file || !detector) return;
    const code = await readCode(detector, file);
    setMissed(code === null);
    if (code !== null) onValue(code);
  };
  return (
    <div class="barcode">
      <DraftInput
        id={id}
        type="text"
        value={value}
        disabled={readOnly}
        placeholder="Type the code"
        onCommit={onValue}
      />
      {detector && !readOnly && (
        <label class="button" id={`${id}-scan`}>
          Scan
          <input
            id={`${id}-camera`}
            type="file"
            accept="image/*"
            capture="environment"
            onChange={(e) => {
              void scan(e.currentTarget.files?.[0]);
              e.currentTarget.value = "";
            }}
          />
        </label>
      )}
      {missed && (
        <span class="muted" id={`${id}-missed`}>
          No code in that photo: scan again or type it.
        </span>
      )}
    </div>
  );
}

/** A text-like input whose typing is the technician's until they leave it: a
 * re-render (a sync finishing) never resets what is being typed; leaving the field
 * (change) records it. A new value from the server shows when not being edited. */
function DraftInput({
  value,
  onCommit,
  id,
  type = "text",
  inputMode,
  placeholder,
  disabled,
  class: className,
}: {
  value: string;
  onCommit: (value: string) => void;
  id: string;
  type?: "text" | "date" | "time";
  inputMode?: "text" | "decimal";
  placeholder?: string;
  disabled?: boolean;
  class?: string;
}) {
  const [draft, setDraft] = useState(value);
  const editing = useRef(false);
  useEffect(() => {
    if (!editing.current) setDraft(value);
  }, [value]);
  return (
    <input
      id={id}
      type={type as "text"} // Preact types each input type apart; all three take text
      inputMode={inputMode}
      placeholder={placeholder}
      disabled={disabled}
      class={className}
      value={draft}
      onFocus={() => {
        editing.current = true;
      }}
      onInput={(e) => setDraft(e.currentTarget.value)}
      onBlur={() => {
        editing.current = false;
      }}
      onChange={(e) => {
        if (e.currentTarget.value !== value) onCommit(e.currentTarget.value);
      }}
    />
  );
}

function ReserveForm({
  engine,
  job,
  field,
  done,
}: {
  engine: Engine;
  job: Job;
  field: ReportField;
  done: () => void;
}) {
  const [comment, setComment] = useState("");
  const raise = async () => {
    if (!comment.trim()) return;
    const id = uuid();
    await engine.record(
      job,
      `${job.number}: reserve on ${field.label}`,
      "POST",
      `/jobs/${job.id}/report/reserves`,
      { id, recorded_at: new Date().toISOString(), field_key: field.key, comment, photos: [] },
      { kind: "reserve", id, fieldKey: field.key, comment },
      id,
    );
    done();
  };
  return (
    <div class="reserve-form">
      <input
        id={`reserve-comment-${field.key}`}
        placeholder="What is wrong?"
        value={comment}
        onInput={(e) => setComment(e.currentTarget.value)}
      />
      <button
        type="button"
        class="primary"
        id={`reserve-raise-${field.key}`}
        onClick={() => void raise()}
      >
        Raise reserve
      </button>
    </div>
  );
}

const RESERVE_STATUSES: Reserve["status"][] = ["unresolved", "resolved", "compliant"];

function ReserveView({
  engine,
  job,
  reserve,
  readOnly,
}: {
  engine: Engine;
  job: Job;
  reserve: Reserve;
  readOnly: boolean;
}) {
  const change = (status: Reserve["status"]) =>
    engine.record(
      job,
      `${job.number}: reserve ${status}`,
      "PATCH",
      `/jobs/${job.id}/report/reserves/${reserve.id}`,
      { status, comment: reserve.comment },
      { kind: "reserve-status", id: reserve.id, status },
    );
  return (
    <div class={`reserve reserve-${reserve.status}`}>
      <span>Reserve: {reserve.comment}</span>
      <select
        value={reserve.status}
        disabled={readOnly}
        aria-label="Reserve status"
        onChange={(e) => void change(e.currentTarget.value as Reserve["status"])}
      >
        {RESERVE_STATUSES.map((s) => (
          <option value={s} key={s}>
            {s[0].toUpperCase() + s.slice(1)}
          </option>
        ))}
      </select>
    </div>
  );
}

function base64Of(dataUrl: string): string {
  return dataUrl.slice(dataUrl.indexOf(",") + 1);
}

function readFile(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function Photos({
  engine,
  job,
  report,
  readOnly,
}: {
  engine: Engine;
  job: Job;
  report: Report;
  readOnly: boolean;
}) {
  const [description, setDescription] = useState("");
  const [photo, setPhoto] = useState<string | null>(null);
  const pick = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) setPhoto(await readFile(file));
  };
  const add = async () => {
    if (!photo) return;
    const id = uuid();
    await engine.record(
      job,
      `${job.number}: photo ${description || ""}`.trim(),
      "POST",
      `/jobs/${job.id}/report/attachments`,
      {
        id,
        recorded_at: new Date().toISOString(),
        kind: "photo",
        image: base64Of(photo),
        description,
      },
      { kind: "photo", id, description, dataUrl: photo },
      id,
    );
    setPhoto(null);
    setDescription("");
  };
  return (
    <section class="photos">
      <h3>Attachments</h3>
      <div class="thumbs">
        {report.attachments.map((a) => (
          <figure key={a.id} class="thumb">
            {a.image?.data_url ? (
              <img src={a.image.data_url} alt={a.description} />
            ) : (
              <div class="stored">stored</div>
            )}
            <figcaption>{a.kind === "barcode" ? a.barcode : a.description}</figcaption>
          </figure>
        ))}
      </div>
      {!readOnly && (
        <div class="add-photo">
          <label class="button">
            Camera
            <input
              type="file"
              accept="image/*"
              capture="environment"
              id="photo-camera"
              onChange={pick}
            />
          </label>
          <label class="button">
            Album
            <input type="file" accept="image/*" id="photo-album" onChange={pick} />
          </label>
          {photo && <img class="preview" src={photo} alt="Preview" />}
          <input
            id="photo-description"
            placeholder="Description"
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
          <button
            type="button"
            class="primary"
            id="photo-add"
            disabled={!photo}
            onClick={() => void add()}
          >
            Add photo
          </button>
        </div>
      )}
    </section>
  );
}

function SignatureBlock({
  engine,
  job,
  report,
  role,
  readOnly,
}: {
  engine: Engine;
  job: Job;
  report: Report;
  role: string;
  readOnly: boolean;
}) {
  const signature = report.signatures[role] ?? null;
  const required = report.template.required_signatures?.includes(role) ?? false;
  const title = role === "customer" ? "Customer's signature" : "Your signature";
  const sign = (name: string, dataUrl: string) =>
    engine.record(
      job,
      `${job.number}: ${role}'s signature`,
      "PUT",
      `/jobs/${job.id}/report/signatures/${role}`,
      { recorded_at: new Date().toISOString(), signer_name: name, image: base64Of(dataUrl) },
      { kind: "signature", role, signerName: name, dataUrl },
    );
  const validate = () =>
    engine.record(
      job,
      `${job.number}: validate the ${role}'s signature`,
      "POST",
      `/jobs/${job.id}/report/signatures/${role}/validate`,
      undefined,
      { kind: "validate", role },
    );
  return (
    <div
      class={`signature${required && !signature?.validated ? " missing" : ""}`}
      id={`signature-${role}`}
    >
      <div class="field-label">
        {title}
        {required && <span class="req"> *</span>}
      </div>
      {signature?.validated ? (
        <p class="signed">
          ✓ Signed by {signature.signer_name} and validated
          {signature.image?.data_url && (
            <img src={signature.image.data_url} alt="" class="sig-image" />
          )}
        </p>
      ) : (
        <>
          <SignaturePad
            idPrefix={`sig-${role}`}
            name={signature?.signer_name ?? ""}
            signed={signature !== null}
            readOnly={readOnly}
            onSign={(name, dataUrl) => void sign(name, dataUrl)}
          />
          {signature && !readOnly && (
            <button
              type="button"
              class="primary"
              id={`sig-${role}-validate`}
              onClick={() => void validate()}
            >
              Validate signature
            </button>
          )}
        </>
      )}
    </div>
  );
}

/** Name, a pad to sign on with a finger, Clear, and Sign (keeps the drawing). */
function SignaturePad({
  idPrefix,
  name,
  signed,
  readOnly,
  onSign,
}: {
  idPrefix: string;
  name: string;
  signed: boolean;
  readOnly: boolean;
  onSign: (name: string, dataUrl: string) => void;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [signer, setSigner] = useState(name);
  const [drawn, setDrawn] = useState(false);
  const last = useRef<{ x: number; y: number } | null>(null);
  const point = (e: PointerEvent) => {
    const c = canvas.current as HTMLCanvasElement;
    const box = c.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * c.width) / box.width,
      y: ((e.clientY - box.top) * c.height) / box.height,
    };
  };
  const down = (e: PointerEvent) => {
    if (readOnly) return;
    last.current = point(e);
    try {
      // keep the stroke when the finger slides off the pad
      (e.currentTarget as HTMLCanvasElement).setPointerCapture(e.pointerId);
    } catch {
      // an emulated or already-released pointer cannot be captured: draw without
    }
  };
  const move = (e: PointerEvent) => {
    const from = last.current;
    const ctx = canvas.current?.getContext("2d");
    if (!from || !ctx) return;
    const to = point(e);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#1a202c";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    last.current = to;
    setDrawn(true);
  };
  const up = () => {
    last.current = null;
  };
  const clear = () => {
    const c = canvas.current;
    c?.getContext("2d")?.clearRect(0, 0, c.width, c.height);
    setDrawn(false);
  };
  const sign = () => {
    const c = canvas.current;
    if (!c || !drawn || !signer.trim()) return;
    onSign(signer.trim(), c.toDataURL("image/png"));
    clear();
  };
  return (
    <div class="pad">
      {signed && <p class="muted">Signed by {name}; sign again to replace it.</p>}
      <input
        id={`${idPrefix}-name`}
        placeholder="Name"
        value={signer}
        disabled={readOnly}
        onInput={(e) => setSigner(e.currentTarget.value)}
      />
      <canvas
        ref={canvas}
        id={`${idPrefix}-pad`}
        width={600}
        height={240}
        class="pad-canvas"
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={up}
      />
      <div class="buttons">
        <button type="button" id={`${idPrefix}-clear`} disabled={readOnly} onClick={clear}>
          Clear
        </button>
        <button
          type="button"
          class="primary"
          id={`${idPrefix}-sign`}
          disabled={readOnly || !drawn || !signer.trim()}
          onClick={sign}
        >
          Sign
        </button>
      </div>
    </div>
  );
}

// -- what waits to sync ----------------------------------------------------------------

function SyncPanel({ engine, snapshot }: { engine: Engine; snapshot: Snapshot }) {
  const [open, setOpen] = useState(false);
  const waiting = snapshot.outbox.filter((e) => e.state === "waiting");
  const refused = snapshot.outbox.filter((e) => e.state === "refused");
  const zone = zoneOf(snapshot);
  let summary = "All synced";
  if (waiting.length) summary = `${waiting.length} waiting to sync`;
  if (snapshot.fixesWaiting) summary += ` · ${snapshot.fixesWaiting} positions`;
  return (
    <footer class={`sync${snapshot.online ? "" : " offline"}`} id="sync">
      <button type="button" class="sync-summary" id="sync-summary" onClick={() => setOpen(!open)}>
        <span class="dot" />
        {snapshot.online ? "" : "Offline · "}
        {summary}
        {refused.length ? ` · ${refused.length} refused` : ""}
      </button>
      {open && (
        <div class="sync-list" id="sync-list">
          {snapshot.lastSync && <p class="muted">Last synced {when(snapshot.lastSync, zone)}</p>}
          {snapshot.lastError && <p class="error">{snapshot.lastError}</p>}
          <ul>
            {snapshot.outbox.map((e) => (
              <li key={e.id} class={e.state}>
                {e.label} <span class="muted">{clock(e.recordedAt, zone)}</span>
                {e.state === "refused" && e.problem && (
                  <span class="error"> — {problemLines(e.problem)[0]}</span>
                )}
              </li>
            ))}
          </ul>
          <button type="button" class="link" onClick={() => void engine.sync()}>
            Sync now
          </button>
        </div>
      )}
    </footer>
  );
}
