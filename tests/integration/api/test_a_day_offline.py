"""A phone offline for a day syncs its outbox shuffled, twice, while the office
edits the same job: the end state is the one an in-order, exactly-once sync
gives, the worked time and the invoice's labour are right, and the history
tells what happened."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import FormData

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import (
    PHOTO,
    PNG,
    Seed,
    make_job_with_report,
    seed,
)

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 20


@dataclass
class Op:
    """One outbox entry: a write the phone made while offline."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    form: list[tuple[str, Any, dict[str, str]]] | None = None


@dataclass
class Run:
    """One job synced by the phone; client ids are per run, named for comparing."""

    job_id: str
    serials: dict[str, str]
    task_id: str
    names: dict[str, str] = field(default_factory=dict)

    def new(self, name: str) -> str:
        value = str(uuid.uuid4())
        self.names[value] = name
        return value


def outbox(run: Run, s: Seed, t0: datetime) -> list[Op]:
    """The technician's day, as the phone recorded it (times from ``t0``)."""
    j = f"/jobs/{run.job_id}"

    def at(minutes: int) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat()

    def clock(event: str, minutes: int) -> Op:
        return Op(
            f"clock {event} +{minutes}",
            "POST",
            f"{j}/sessions",
            {"event": event, "at": at(minutes)},
        )

    def photo(name: str, kind: str, minutes: int, content: bytes) -> Op:
        return Op(
            name,
            "POST",
            f"{j}/attachments",
            form=[
                ("id", run.new(name), {}),
                ("recorded_at", at(minutes), {}),
                ("kind", kind, {}),
                ("description", name, {}),
                (
                    "file",
                    content,
                    {"filename": f"{name}.jpg", "content_type": "image/jpeg"},
                ),
            ],
        )

    receipt = photo("receipt", "receipt", 180, JPEG + b"receipt")
    receipt_id = next(v for k, v, _ in receipt.form or [] if k == "id")
    return [
        clock("clock_in", 0),
        Op(
            "note arrived",
            "POST",
            f"{j}/notes",
            {
                "id": run.new("note arrived"),
                "recorded_at": at(5),
                "visibility": "public",
                "text": "Arrived; boiler cold.",
            },
        ),
        photo("before", "photo_before", 10, JPEG + b"before"),
        Op(
            "fields early",
            "PATCH",
            f"{j}/report/fields",
            {
                "recorded_at": at(60),
                "fields": {"gas_tight": {"value": True}, "pressure": {"value": 1.2}},
            },
        ),
        clock("pause", 120),
        clock("resume", 150),
        receipt,
        Op(
            "expense",
            "POST",
            f"{j}/expenses",
            {
                "id": run.new("expense"),
                "recorded_at": at(185),
                "description": "Gasket from the hardware store",
                "amount": "12.40",
                "receipt_attachment_id": receipt_id,
            },
        ),
        Op(
            "meter reading",
            "POST",
            f"{j}/report/attachments",
            {
                "id": run.new("meter reading"),
                "recorded_at": at(200),
                "kind": "barcode",
                "barcode": "4006381333931",
                "description": "Gas meter",
            },
        ),
        Op(
            "reserve",
            "POST",
            f"{j}/report/reserves",
            {
                "id": run.new("reserve"),
                "recorded_at": at(210),
                "field_key": "remarks",
                "comment": "Flue cracked",
                "photos": [PHOTO],
            },
        ),
        Op(
            "pump",
            "POST",
            f"{j}/parts",
            {
                "id": run.new("pump"),
                "recorded_at": at(240),
                "item_id": s.items["pump"],
                "quantity": 1,
                "serials": [run.serials["new pump"]],
            },
        ),
        Op(
            "labour",
            "POST",
            f"{j}/parts",
            {
                "id": run.new("labour"),
                "recorded_at": at(245),
                "item_id": s.items["labour"],
                "quantity": 1,
            },
        ),
        Op(
            "take back",
            "POST",
            f"{j}/take-backs",
            {
                "id": run.new("take back"),
                "recorded_at": at(250),
                "serial": run.serials["old pump"],
                "condition": "obsolete",
                "item_id": s.items["pump"],
            },
        ),
        photo("after", "photo_after", 300, JPEG + b"after"),
        Op(
            "note done",
            "POST",
            f"{j}/notes",
            {
                "id": run.new("note done"),
                "recorded_at": at(310),
                "visibility": "public",
                "text": "Pump replaced, flue reported.",
            },
        ),
        Op(
            "fields late",
            "PATCH",
            f"{j}/report/fields",
            {
                "recorded_at": at(315),
                "fields": {
                    "pressure": {"value": 1.4},
                    "approved": {"value": "yes"},
                    "remarks": {"value": "Flue needs a chimney sweep"},
                },
            },
        ),
        Op(
            "customer signs",
            "PUT",
            f"{j}/report/signatures/customer",
            {"recorded_at": at(320), "signer_name": "Émile Zola", "image": PNG},
        ),
        Op(
            "technician signs",
            "PUT",
            f"{j}/report/signatures/technician",
            {"recorded_at": at(325), "signer_name": "Tess", "image": PNG},
        ),
        Op(
            "task done",
            "PATCH",
            f"{j}/tasks/{run.task_id}",
            {"done": True, "recorded_at": at(330)},
        ),
        clock("clock_out", 360),
    ]


def office_edits(run: Run) -> list[Op]:
    """What the office does to the same job while the phone is offline (now)."""
    j = f"/jobs/{run.job_id}"
    return [
        Op(
            "office note",
            "POST",
            f"{j}/notes",
            {"visibility": "internal", "text": "Customer called: gate code 4711"},
        ),
        Op(
            "office pressure",
            "PATCH",
            f"{j}/report/fields",
            {"fields": {"pressure": {"value": 1.5, "comment": "re-measured remotely"}}},
        ),
    ]


async def send(w: World, who: str, run: Run, op: Op) -> Any:
    headers = {**w.people.auth(who), "Idempotency-Key": f"{run.job_id}:{op.name}"}
    if op.form is not None:
        form = FormData()
        for key, value, extra in op.form:
            form.add_field(key, value, **extra)
        response = await w.api.request(
            op.method, "/api/v1" + op.path, data=form, headers=headers
        )
    else:
        response = await w.api.request(
            op.method, "/api/v1" + op.path, json=op.body, headers=headers
        )
    text = await response.text()
    assert response.status in (200, 201, 202), f"{op.name}: {response.status} {text}"
    return response


async def prepare(w: World, s: Seed, tag: str) -> Run:
    job_id = await make_job_with_report(w, s, f"Pump replacement {tag}")
    task = await w.call(
        "dispatcher", "POST", f"/jobs/{job_id}/tasks", 201, {"title": "Bleed radiators"}
    )
    serials = {"new pump": f"P-{tag}", "old pump": f"X-{tag}"}
    await w.call(
        "admin",
        "POST",
        f"/depots/{s.depots['tess']}/stock",
        201,
        {"item_id": s.items["pump"], "serials": [serials["new pump"]]},
    )
    return Run(job_id, serials, task["id"])


async def finish(w: World, run: Run) -> dict[str, Any]:
    """Back online: validate the signatures, complete, invoice; the end state."""
    j = f"/jobs/{run.job_id}"
    for role in ("customer", "technician"):
        await w.call("tess", "POST", f"{j}/report/signatures/{role}/validate", 200)
    await w.call("tess", "POST", f"{j}/complete", 200)
    invoice = await w.call("billing", "POST", f"{j}/invoice", 201)
    return await state(w, run, invoice)


async def state(w: World, run: Run, invoice: dict[str, Any]) -> dict[str, Any]:
    """What the job ends as, with this run's ids and serials named."""
    j = f"/jobs/{run.job_id}"
    named = {**run.names, **{v: k for k, v in run.serials.items()}}

    def n(value: Any) -> Any:
        return named.get(value, value) if isinstance(value, str) else value

    def text(value: str) -> str:
        for serial, name in run.serials.items():
            value = value.replace(name, serial)
        return value

    def note(x: dict[str, Any]) -> tuple[str, str, str]:
        if x["id"] in named:
            return (n(x["id"]), x["text"], x["created_at"])
        return ("the office's", x["text"], "written now")

    sessions = await w.call("dispatcher", "GET", f"{j}/sessions", 200)
    notes = await w.call("dispatcher", "GET", f"{j}/notes", 200)
    attachments = await w.call("dispatcher", "GET", f"{j}/attachments", 200)
    expenses = await w.call("dispatcher", "GET", f"{j}/expenses", 200)
    tasks = await w.call("dispatcher", "GET", f"{j}/tasks", 200)
    report = await w.call("dispatcher", "GET", f"{j}/report", 200)
    parts = await w.call("dispatcher", "GET", f"{j}/parts", 200)
    return {
        "sessions": [
            (x["state"], x["intervals"], x["worked_seconds"]) for x in sessions["items"]
        ],
        "pending": sessions["pending"],
        "notes": [note(x) for x in notes["items"]],
        "attachments": sorted(
            (n(x["id"]), x["kind"], x["sha256"], x["uploaded_at"])
            for x in attachments["items"]
        ),
        "expenses": [
            (
                n(x["id"]),
                x["amount"],
                n(x["receipt_attachment_id"]),
                x["receipt_status"],
            )
            for x in expenses["items"]
        ],
        "tasks": [(x["title"], x["done"]) for x in tasks["items"]],
        "fields": {
            f["key"]: (f["value"], f["comment"])
            for fam in report["families"]
            for f in fam["fields"]
        },
        "report_attachments": [
            (n(a["id"]), a["kind"], a["barcode"], a["added_at"])
            for a in report["attachments"]
        ],
        "reserves": [
            (n(r["id"]), r["field_key"], r["comment"]) for r in report["reserves"]
        ],
        "signatures": sorted(
            (role, sig["signer_name"], sig["signed_at"])
            for role, sig in report["signatures"].items()
            if sig is not None
        ),
        "parts": sorted(
            (
                n(p["id"]),
                p["item_id"],
                p["quantity"],
                [n(x) for x in p["serials"]],
                p["added_at"],
            )
            for p in parts["items"]
        ),
        "take_backs": [
            (n(t["id"]), n(t["serial"]), t["condition"], t["at"])
            for t in parts["take_backs"]
        ],
        "invoice": sorted(
            (x["source"], text(x["description"]), x["quantity"], x["unit_price"])
            for x in invoice["lines"]
        ),
        "invoice_totals": invoice["totals"],
    }


async def test_a_day_offline_synced_shuffled_twice_ends_as_the_in_order_sync(
    world: World,
) -> None:
    w = world
    s = await seed(w)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)

    # The reference: the same day synced in order, once; the office edits after.
    ref = await prepare(w, s, "A")
    for op in outbox(ref, s, t0):
        await send(w, "tess", ref, op)
    for op in office_edits(ref):
        await send(w, "dispatcher", ref, op)
    expected = await finish(w, ref)

    # The phone: shuffled, then the whole outbox again (it never got the answers),
    # with the office's edits landing in between.
    run = await prepare(w, s, "B")
    ops = outbox(run, s, t0)
    rng = random.Random(20261206)
    first, second = rng.sample(ops, len(ops)), rng.sample(ops, len(ops))
    office = office_edits(run)
    for i, op in enumerate(first):
        await send(w, "tess", run, op)
        if i in (3, 9):
            await send(w, "dispatcher", run, office.pop(0))
    replayed = [await send(w, "tess", run, op) for op in second]
    assert all(
        r.headers.get("Idempotent-Replayed") == "true"
        for r, op in zip(replayed, second, strict=True)
        if op.method == "POST"
    ), "every creating write is answered from its first outcome"
    got = await finish(w, run)

    assert got == expected
    # 6 h on site minus a 30 min pause, billed in started quarter hours.
    assert got["sessions"] == [("closed", got["sessions"][0][1], 5 * 3600 + 30 * 60)]
    [labour] = [line for line in got["invoice"] if line[0] == "labour"]
    assert labour[2] == "5.5"
    assert got["expenses"][0][2:] == ("receipt", "attached")
    assert got["tasks"] == [("Bleed radiators", True)]
    assert got["report_attachments"] == [
        (
            "meter reading",
            "barcode",
            "4006381333931",
            (t0 + timedelta(minutes=200)).isoformat(),
        )
    ]
    assert [(p[0], p[4]) for p in got["parts"]] == [
        ("labour", (t0 + timedelta(minutes=245)).isoformat()),
        ("pump", (t0 + timedelta(minutes=240)).isoformat()),
    ], "parts keep the phone's ids and times"
    assert got["fields"]["pressure"] == ("1.5", "re-measured remotely"), (
        "the later edit wins"
    )
    assert got["fields"]["remarks"][0] == "Flue needs a chimney sweep"

    history = await w.call(
        "dispatcher", "GET", f"/jobs/{run.job_id}/history?limit=200", 200
    )
    actions = [h["action"] for h in history["items"]]
    assert actions.count("note_added") == 3, "each note once, replays or not"
    assert actions.count("attachment_added") == 3
    assert actions.count("clocked_in") == 1
    assert "report_field_superseded" in actions, "the phone's older pressure is told"
    late = [h for h in history["items"] if "received_at" in h["details"]]
    assert late, "late writes say when they arrived"
