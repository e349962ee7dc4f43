// Invoicing on the phone ("Perform a job", Invoicing): parts and services by family,
// searched and filtered, serial numbers for serialized parts, the total tax-free;
// take backs of serialized parts. Every change goes through the outbox (offline too).

import { useState } from "preact/hooks";
import { type Engine, type Snapshot, uuid } from "./engine";
import { Labelled } from "./inputs";
import { lineNet, parseSerials, searchCatalog, totalTaxFree } from "./local";
import type { CatalogItem, Condition, Job, TakeBackLine } from "./types";

export const CONDITIONS: { value: Condition; label: string }[] = [
  { value: "ok", label: "OK" },
  { value: "needs_repair", label: "Needs Repair" },
  { value: "obsolete", label: "Obsolete" },
];

export function PartsView({
  engine,
  snapshot,
  job,
}: {
  engine: Engine;
  snapshot: Snapshot;
  job: Job;
}) {
  const catalog = snapshot.catalog;
  const parts = job.parts ?? { items: [], take_backs: [] };
  const readOnly = job.status === "completed" || job.status === "cancelled";
  const items = catalog?.items ?? [];
  const nameOf = (id: string | null) => items.find((i) => i.id === id)?.name ?? "—";
  const remove = (id: string, name: string) =>
    engine.record(
      job,
      `${job.number}: remove ${name}`,
      "DELETE",
      `/jobs/${job.id}/parts/${id}`,
      undefined,
      { kind: "part-removed", id },
    );
  return (
    <div class="panel" id="parts">
      <h2>Parts and services</h2>
      {parts.items.length === 0 && <p class="muted">Nothing added yet.</p>}
      <ul class="lines" id="part-lines">
        {parts.items.map((p) => (
          <li key={p.id} data-part={p.name}>
            <span>
              {p.quantity} × {p.name}
              {p.serials.length > 0 && <span class="muted"> · {p.serials.join(", ")}</span>}
            </span>
            <span class="amount">{p.net}</span>
            {!readOnly && (
              <button type="button" class="part-delete" onClick={() => void remove(p.id, p.name)}>
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      <p class="total">
        Total tax-free: <strong id="parts-total">{totalTaxFree(parts.items)}</strong>
      </p>
      {!readOnly &&
        (catalog ? (
          <AddItem engine={engine} job={job} items={items} families={catalog.families} />
        ) : (
          <p class="muted">The price book is read at the next sync.</p>
        ))}
      <h3>Take backs</h3>
      <ul class="lines" id="take-backs">
        {parts.take_backs.map((b) => (
          <TakeBackRow
            key={b.id}
            engine={engine}
            job={job}
            line={b}
            name={nameOf(b.item_id)}
            readOnly={readOnly}
          />
        ))}
      </ul>
      {!readOnly && <TakeBackForm engine={engine} job={job} items={items} />}
    </div>
  );
}

function AddItem({
  engine,
  job,
  items,
  families,
}: {
  engine: Engine;
  job: Job;
  items: CatalogItem[];
  families: string[];
}) {
  const [family, setFamily] = useState("");
  const [text, setText] = useState("");
  const [kind, setKind] = useState<CatalogItem["kind"] | "">("");
  const [chosen, setChosen] = useState<CatalogItem | null>(null);
  const [quantity, setQuantity] = useState("1");
  const [serials, setSerials] = useState("");
  const found = searchCatalog(items, { family, text, kind });
  const add = async () => {
    if (!chosen) return;
    const list = chosen.serialized ? parseSerials(serials) : [];
    const qty = chosen.serialized ? String(list.length) : quantity;
    const id = uuid();
    await engine.record(
      job,
      `${job.number}: add ${qty} × ${chosen.name}`,
      "POST",
      `/jobs/${job.id}/parts`,
      {
        id,
        recorded_at: new Date().toISOString(),
        item_id: chosen.id,
        quantity: qty,
        ...(chosen.serialized ? { serials: list } : {}),
      },
      {
        kind: "part",
        part: {
          id,
          item_id: chosen.id,
          family: chosen.family,
          name: chosen.name,
          kind: chosen.kind,
          quantity: qty,
          unit_price: chosen.unit_price,
          net: lineNet(qty, chosen.unit_price),
          serials: list,
        },
      },
    );
    setChosen(null);
    setQuantity("1");
    setSerials("");
  };
  const serialCount = parseSerials(serials).length;
  return (
    <div class="add-item">
      <h3>Add a part or service</h3>
      <div class="filters">
        <select id="part-family" value={family} onChange={(e) => setFamily(e.currentTarget.value)}>
          <option value="">All families</option>
          {families.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
        <select
          id="part-kind"
          value={kind}
          onChange={(e) => setKind(e.currentTarget.value as CatalogItem["kind"] | "")}
        >
          <option value="">Parts and services</option>
          <option value="part">Parts</option>
          <option value="service">Services</option>
          <option value="labour">Labour</option>
        </select>
        <input
          id="part-search"
          type="search"
          placeholder="Search"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </div>
      <ul class="catalog" id="catalog">
        {found.slice(0, 30).map((item) => (
          <li key={item.id}>
            <button
              type="button"
              data-item={item.name}
              class={chosen?.id === item.id ? "on" : ""}
              onClick={() => setChosen(item)}
            >
              <span>
                {item.name}
                {item.serialized && <span class="badge">serial</span>}
              </span>
              <span class="muted">
                {item.family} · {item.unit_price}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {chosen && (
        <div class="chosen" id="part-chosen">
          <strong>{chosen.name}</strong>
          {chosen.serialized ? (
            <label>
              Serial numbers (one a line)
              <textarea
                id="part-serials"
                value={serials}
                onInput={(e) => setSerials(e.currentTarget.value)}
              />
            </label>
          ) : (
            <Labelled
              label="Quantity"
              id="part-quantity"
              inputMode="decimal"
              value={quantity}
              onInput={setQuantity}
            />
          )}
          <button
            type="button"
            class="primary"
            id="part-confirm"
            disabled={chosen.serialized ? serialCount === 0 : !(Number(quantity) > 0)}
            onClick={() => void add()}
          >
            Add
          </button>
        </div>
      )}
    </div>
  );
}

function TakeBackForm({ engine, job, items }: { engine: Engine; job: Job; items: CatalogItem[] }) {
  const [serial, setSerial] = useState("");
  const [checked, setChecked] = useState<"found" | "not-found" | null>(null);
  const [family, setFamily] = useState("");
  const [itemId, setItemId] = useState("");
  const [condition, setCondition] = useState<Condition>("ok");
  const serialized = items.filter((i) => i.serialized);
  const families = [...new Set(serialized.map((i) => i.family))].sort();
  const check = async () => {
    const answer = await engine.checkSerial(job.id, serial.trim());
    if (answer?.found && answer.item) {
      setFamily(answer.item.family);
      setItemId(answer.item.id);
      setChecked("found");
    } else {
      setFamily("");
      setItemId("");
      setChecked("not-found");
    }
  };
  const submit = async () => {
    const id = uuid();
    const chosen = itemId || null;
    await engine.record(
      job,
      `${job.number}: take back ${serial.trim()}`,
      "POST",
      `/jobs/${job.id}/take-backs`,
      {
        id,
        recorded_at: new Date().toISOString(),
        serial: serial.trim(),
        condition,
        item_id: chosen,
      },
      {
        kind: "take-back",
        takeBack: { id, serial: serial.trim(), item_id: chosen, condition },
      },
    );
    setSerial("");
    setChecked(null);
    setFamily("");
    setItemId("");
    setCondition("ok");
  };
  return (
    <div class="take-back">
      <label>
        Serial number
        <input
          id="tb-serial"
          value={serial}
          onInput={(e) => {
            setSerial(e.currentTarget.value);
            setChecked(null);
          }}
        />
      </label>
      <button type="button" id="tb-check" disabled={!serial.trim()} onClick={() => void check()}>
        Check
      </button>
      {checked === "found" && (
        <p id="tb-found">
          Found at the client: {family} › {items.find((i) => i.id === itemId)?.name}
        </p>
      )}
      {checked === "not-found" && (
        <div id="tb-choose">
          <p class="muted">Not found at the client: choose the family, then the part.</p>
          <select
            id="tb-family"
            value={family}
            onChange={(e) => {
              setFamily(e.currentTarget.value);
              setItemId("");
            }}
          >
            <option value="">Family…</option>
            {families.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
          {family && (
            <select id="tb-item" value={itemId} onChange={(e) => setItemId(e.currentTarget.value)}>
              <option value="">Part…</option>
              {serialized
                .filter((i) => i.family === family)
                .map((i) => (
                  <option key={i.id} value={i.id}>
                    {i.name}
                  </option>
                ))}
            </select>
          )}
        </div>
      )}
      {checked && (
        <div class="condition">
          <ConditionPicker id="tb-condition" value={condition} onChange={setCondition} />
          <button
            type="button"
            class="primary"
            id="tb-submit"
            disabled={!itemId}
            onClick={() => void submit()}
          >
            Take back
          </button>
        </div>
      )}
    </div>
  );
}

function ConditionPicker({
  id,
  value,
  onChange,
}: {
  id: string;
  value: Condition;
  onChange: (c: Condition) => void;
}) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value as Condition)}>
      {CONDITIONS.map((c) => (
        <option key={c.value} value={c.value}>
          {c.label}
        </option>
      ))}
    </select>
  );
}

function TakeBackRow({
  engine,
  job,
  line,
  name,
  readOnly,
}: {
  engine: Engine;
  job: Job;
  line: TakeBackLine;
  name: string;
  readOnly: boolean;
}) {
  const edit = (condition: Condition) =>
    engine.record(
      job,
      `${job.number}: ${line.serial} is ${condition}`,
      "PATCH",
      `/jobs/${job.id}/take-backs/${line.id}`,
      { condition },
      { kind: "take-back-edit", id: line.id, condition, itemId: line.item_id },
    );
  const remove = () =>
    engine.record(
      job,
      `${job.number}: undo the take back of ${line.serial}`,
      "DELETE",
      `/jobs/${job.id}/take-backs/${line.id}`,
      undefined,
      { kind: "take-back-removed", id: line.id },
    );
  return (
    <li data-take-back={line.serial}>
      <span>
        {line.serial} · {name}
      </span>
      {readOnly ? (
        <span>{CONDITIONS.find((c) => c.value === line.condition)?.label}</span>
      ) : (
        <>
          <ConditionPicker
            id={`tb-condition-${line.serial}`}
            value={line.condition}
            onChange={(c) => void edit(c)}
          />
          <button type="button" class="tb-delete" onClick={() => void remove()}>
            Delete
          </button>
        </>
      )}
    </li>
  );
}
