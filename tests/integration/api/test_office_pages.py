"""The office's Jobs and Job pages edit through the API's own services and rules.

``dashboard.actions.Office`` runs in the dashboard's (synchronous) threads; here
it runs in a worker thread against the database of the API under test, and the
API then reads back what it did. The role matrix the pages obey is the one the
API's routes are registered with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pytest

from dashboard.actions import STALE, Conn, Done, Office, OfficeUser
from dashboard.pages.clients import callbacks as clients_callbacks
from dashboard.pages.clients import layout as clients_layout
from dashboard.pages.job.callbacks import Loaded, load
from dashboard.paging import OffsetPaging, Paging
from jobs_domain.actors import Actor, Role
from jobs_domain.job import CrewRole, JobStatus, NoteVisibility, parse_job_number
from jobs_domain.permissions import MATRIX, Act
from services import invoicing
from services import jobs as service
from tests.integration.api.conftest import World

T = TypeVar("T")

#: The API operation of each act (method, path as the OpenAPI document has it).
OPERATIONS = {
    Act.CREATE_JOB: ("post", "/api/v1/jobs"),
    Act.SCHEDULE: ("post", "/api/v1/jobs/{job_id}/schedule"),
    Act.START: ("post", "/api/v1/jobs/{job_id}/start"),
    Act.HOLD: ("post", "/api/v1/jobs/{job_id}/hold"),
    Act.RESUME: ("post", "/api/v1/jobs/{job_id}/resume"),
    Act.COMPLETE: ("post", "/api/v1/jobs/{job_id}/complete"),
    Act.CANCEL: ("post", "/api/v1/jobs/{job_id}/cancel"),
    Act.ASSIGN_CREW: ("put", "/api/v1/jobs/{job_id}/crew/{technician_id}"),
    Act.ADD_LINE_ITEM: ("post", "/api/v1/jobs/{job_id}/line-items"),
    Act.ADD_TASK: ("post", "/api/v1/jobs/{job_id}/tasks"),
    Act.TICK_TASK: ("patch", "/api/v1/jobs/{job_id}/tasks/{task_id}"),
    Act.ADD_NOTE: ("post", "/api/v1/jobs/{job_id}/notes"),
    Act.USE_PART: ("post", "/api/v1/jobs/{job_id}/parts"),
    Act.TAKE_BACK: ("post", "/api/v1/jobs/{job_id}/take-backs"),
    Act.SEE_PROFITABILITY: ("get", "/api/v1/jobs/{job_id}/profitability"),
    Act.READ_INVOICES: ("get", "/api/v1/invoices/{invoice_id}"),
    Act.GENERATE_INVOICE: ("post", "/api/v1/jobs/{job_id}/invoice"),
    Act.ISSUE_INVOICE: ("post", "/api/v1/invoices/{invoice_id}/issue"),
    Act.SEND_INVOICE: ("post", "/api/v1/invoices/{invoice_id}/send"),
    Act.VOID_INVOICE: ("post", "/api/v1/invoices/{invoice_id}/void"),
    Act.CREDIT_INVOICE: ("post", "/api/v1/invoices/{invoice_id}/credit-notes"),
    Act.EDIT_DIRECTORY: ("patch", "/api/v1/properties/{property_id}"),
    # -- estimates and bookings
    Act.CREATE_ESTIMATE: ("post", "/api/v1/estimates"),
    Act.APPROVE_ESTIMATE: ("post", "/api/v1/estimates/{estimate_id}/approve"),
    Act.CONVERT_ESTIMATE: ("post", "/api/v1/estimates/{estimate_id}/convert"),
    Act.TAKE_BOOKING: ("post", "/api/v1/bookings"),
    # the price book and report templates (issue 16)
    Act.EDIT_PRICE_BOOK: ("patch", "/api/v1/price-book/items/{item_id}"),
    Act.EDIT_REPORT_TEMPLATES: ("put", "/api/v1/report-templates/{template_id}"),
    Act.SET_STOCK_SETTINGS: ("put", "/api/v1/parts/catalog/{item_id}/stock-settings"),
    # users and devices
    Act.MANAGE_USERS: ("post", "/api/v1/users"),
    Act.MANAGE_DEVICES: ("post", "/api/v1/devices"),
}


def _user(w: World, who: str) -> OfficeUser:
    with psycopg.connect(w.settings.database_url) as conn:
        row = conn.execute(
            "SELECT id::text, name, role FROM users WHERE email = %s",
            (f"{who}@example.test",),
        ).fetchone()
    assert row is not None
    return OfficeUser(*row)


async def _as(w: World, fn: Callable[[Office], T]) -> T:
    """Run an office call as the dashboard does: in a worker thread."""
    return await asyncio.to_thread(fn, Office(w.settings))


async def _site(w: World, client: str = "Émile Zola") -> tuple[str, str]:
    c = await w.call("admin", "POST", "/clients", 201, {"name": client})
    p = await w.call(
        "admin",
        "POST",
        "/properties",
        201,
        {
            "client_id": c["id"],
            "address": {"line1": "12 rue de Médan", "city": "Paris"},
            "location": {"lat": 48.85, "lon": 2.35},
            "geofence": {"radius_m": 60},
        },
    )
    return c["id"], p["id"]


def _tomorrow(hour: int) -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(hours=2)


async def _new_job(w: World, who: str = "dispatcher", **kw: Any) -> Done:
    client_id, site_id = await _site(w)
    new = service.NewJob(
        client_id=client_id,
        property_id=site_id,
        description=kw.pop("description", "Boiler service"),
        window=kw.pop("window", _tomorrow(9)),
        tasks=kw.pop("tasks", ()),
    )
    crew = kw.pop(
        "crew",
        [
            (w.people.technician_ids["tess"], CrewRole.JOB_MANAGER),
            (w.people.technician_ids["alex"], CrewRole.AUXILIARY),
        ],
    )
    user = _user(w, who)
    return await _as(w, lambda o: o.create_job(user, new, crew))


async def _loaded(w: World, number: str, who: str = "dispatcher") -> Loaded:
    user = _user(w, who)
    n = parse_job_number(number)
    assert n is not None

    async def read(conn: Conn, actor: Actor) -> Loaded:
        return await load(conn, actor, n)

    return await _as(w, lambda o: o.read(user, read))


async def test_a_job_created_on_the_jobs_page_is_the_apis_job_with_its_crew(
    world: World,
) -> None:
    done = await _new_job(world)
    assert done.ok, done
    assert done.job_number is not None
    assert done.message == f"{done.job_number} created."
    job = (await _loaded(world, done.job_number)).overview.job
    api = await world.call("billing", "GET", f"/jobs/{job.id}", 200)
    assert api["number"] == done.job_number
    assert api["status"] == "pending"
    crew = await world.call("dispatcher", "GET", f"/jobs/{job.id}/crew", 200)
    assert {(m["technician_id"], m["role"]) for m in crew["items"]} == {
        (world.people.technician_ids["tess"], "job_manager"),
        (world.people.technician_ids["alex"], "auxiliary"),
    }
    history = await world.call("dispatcher", "GET", f"/jobs/{job.id}/history", 200)
    assert {h["source"] for h in history["items"]} == {"dashboard"}
    assert {h["actor_name"] for h in history["items"]} == {"Dispatcher"}


async def test_a_refused_crew_member_leaves_no_job_behind(world: World) -> None:
    before = await world.call("admin", "GET", "/jobs", 200)
    done = await _new_job(
        world, crew=[("00000000-0000-4000-8000-000000000001", CrewRole.JOB_MANAGER)]
    )
    assert not done.ok
    after = await world.call("admin", "GET", "/jobs", 200)
    assert len(after["items"]) == len(before["items"])


async def test_the_clients_list_is_ordered_by_name_and_its_pages_keep_that_order(
    world: World,
) -> None:
    for name in ["Zoé Orderly", "adam Orderly", "Bruno Orderly", "Céline Orderly"]:
        await world.call("admin", "POST", "/clients", 201, {"name": name})
    dispatcher = _user(world, "dispatcher")

    async def pages() -> list[list[str]]:
        seen: list[list[str]] = []
        paging = Paging[str]()
        while True:

            async def read(
                conn: Conn, _actor: Actor, at: Paging[str] = paging
            ) -> tuple[Any, bool]:
                return await clients_callbacks.list_page(conn, "Orderly", at)

            found, more = await _as(world, lambda o: o.read(dispatcher, read))
            seen.append([c.name for c in found])
            if not more:
                return seen
            paging = paging.next(str(found[-1].id))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dashboard.paging.PAGE_SIZE", 3)
        assert await pages() == [
            ["adam Orderly", "Bruno Orderly", "Céline Orderly"],
            ["Zoé Orderly"],
        ]
    row = {"name": "adam Orderly", "email": "—", "phone": "—", "href": "/clients"}
    assert clients_layout.ORDER_TEXT in str(clients_layout.table([row]))


async def test_the_jobs_list_filters_by_team_and_finds_by_number_or_client(
    world: World,
) -> None:
    first = await _new_job(world)
    second = await _new_job(
        world, crew=[(world.people.technician_ids["sam"], CrewRole.JOB_MANAGER)]
    )
    await _site(world, client="Boulangerie Paul")
    assert first.job_number
    assert second.job_number
    with psycopg.connect(world.settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE technicians SET team = 'North' WHERE id = %s",
            (world.people.technician_ids["sam"],),
        )
    user = _user(world, "dispatcher")

    def listing(**kw: Any) -> list[str]:
        async def read(conn: Conn, actor: Actor) -> list[str]:
            args: dict[str, Any] = {
                "statuses": [],
                "technician_id": None,
                "client_id": None,
                "date_from": None,
                "date_to": None,
                "after_number": None,
                "limit": 50,
                **kw,
            }
            return [
                j.display_number for j in await service.search_jobs(conn, actor, **args)
            ]

        return Office(world.settings).read(user, read)

    assert await asyncio.to_thread(listing, team="North") == [second.job_number]
    assert await asyncio.to_thread(listing, text=first.job_number) == [first.job_number]
    assert await asyncio.to_thread(listing, text=first.job_number[2:].lstrip("0")) == [
        first.job_number
    ]
    assert await asyncio.to_thread(listing, text="zola") == [
        first.job_number,
        second.job_number,
    ]
    assert await asyncio.to_thread(listing, text="paul") == []
    assert await asyncio.to_thread(listing, text="100%") == []  # % is not a wildcard


async def test_the_lifecycle_runs_from_the_job_page_and_complete_lists_its_blockers(
    world: World,
) -> None:
    done = await _new_job(world, tasks=[("Check safety valve", True)])
    assert done.ok
    assert done.job_number
    user = _user(world, "dispatcher")
    job = (await _loaded(world, done.job_number)).overview.job
    start, end = _tomorrow(9)
    steps = [
        lambda o, v: o.schedule(
            user, job.id, v, start=start, end=end, technician_id=None
        ),
        lambda o, v: o.status(user, job.id, v, Act.START, ""),
        lambda o, v: o.status(user, job.id, v, Act.HOLD, "waiting for parts"),
        lambda o, v: o.status(user, job.id, v, Act.RESUME, ""),
    ]
    for step in steps:
        version = (await _loaded(world, done.job_number)).overview.job.version
        result = await _as(world, lambda o, s=step, v=version: s(o, v))
        assert result.ok, result
    version = (await _loaded(world, done.job_number)).overview.job.version
    blocked = await _as(
        world, lambda o: o.status(user, job.id, version, Act.COMPLETE, "")
    )
    assert not blocked.ok
    assert blocked.blockers == ("required task not checked off: Check safety valve",)
    loaded = await _loaded(world, done.job_number)
    (task,) = loaded.overview.job.tasks
    ticked = await _as(
        world,
        lambda o: o.tick_task(user, job.id, loaded.overview.job.version, task.id, True),
    )
    assert ticked.ok, ticked
    version = (await _loaded(world, done.job_number)).overview.job.version
    completed = await _as(
        world, lambda o: o.status(user, job.id, version, Act.COMPLETE, "")
    )
    assert completed.ok, completed
    api = await world.call("dispatcher", "GET", f"/jobs/{job.id}", 200)
    assert api["status"] == JobStatus.COMPLETED.value
    history = await world.call("dispatcher", "GET", f"/jobs/{job.id}/history", 200)
    actions = [h["action"] for h in history["items"]]
    assert actions[-6:] == [
        "scheduled",
        "started",
        "put_on_hold",
        "resumed",
        "task_checked",
        "completed",
    ]


async def test_a_stale_page_is_told_and_overwrites_nothing(world: World) -> None:
    done = await _new_job(world)
    assert done.job_number
    user = _user(world, "dispatcher")
    seen = (await _loaded(world, done.job_number)).overview.job
    first = await _as(
        world,
        lambda o: o.add_note(user, seen.id, seen.version, NoteVisibility.PUBLIC, "A"),
    )
    assert first.ok
    second = await _as(
        world,
        lambda o: o.add_note(user, seen.id, seen.version, NoteVisibility.INTERNAL, "B"),
    )
    assert (second.ok, second.stale, second.message) == (False, True, STALE)
    notes = await world.call("dispatcher", "GET", f"/jobs/{seen.id}/notes", 200)
    assert [(n["visibility"], n["text"]) for n in notes["items"]] == [("public", "A")]


async def test_billing_cannot_edit_a_jobs_crew_and_is_refused_as_by_the_api(
    world: World,
) -> None:
    done = await _new_job(world)
    assert done.job_number
    job = (await _loaded(world, done.job_number, who="billing")).overview.job
    sam = world.people.technician_ids["sam"]
    refused = await _as(
        world,
        lambda o: o.assign(
            _user(world, "billing"), job.id, job.version, sam, CrewRole.AUXILIARY
        ),
    )
    api = await world.call(
        "billing",
        "PUT",
        f"/jobs/{job.id}/crew/{sam}",
        403,
        {"role": "auxiliary"},
    )
    assert not refused.ok
    assert refused.message == f"Not changed: {api['detail']}"
    crew = await world.call("dispatcher", "GET", f"/jobs/{job.id}/crew", 200)
    assert sam not in {m["technician_id"] for m in crew["items"]}


async def test_a_bad_custom_line_item_points_at_its_field_and_a_good_one_adds_up(
    world: World,
) -> None:
    done = await _new_job(world)
    assert done.job_number
    user = _user(world, "billing")
    job = (await _loaded(world, done.job_number)).overview.job
    bad = await _as(
        world,
        lambda o: o.add_line_item(
            user, job.id, job.version, {"description": "Call-out", "unit_price": "abc"}
        ),
    )
    assert not bad.ok
    assert list(bad.problems) == ["/unit_price"]
    good = await _as(
        world,
        lambda o: o.add_line_item(
            user,
            job.id,
            job.version,
            {
                "description": "Call-out",
                "quantity": "2",
                "unit_price": "45",
                "tax_rate": "20",
            },
        ),
    )
    assert good.ok, good
    items = await world.call("billing", "GET", f"/jobs/{job.id}/line-items", 200)
    assert items["totals"] == {"net": "90.00", "tax": "18.00", "gross": "108.00"}


async def test_every_act_of_the_matrix_has_the_roles_the_api_documents(
    world: World,
) -> None:
    document = await (await world.api.get("/api/v1/openapi.json")).json()
    documented = {
        act: tuple(document["paths"][path][method]["x-roles"])
        for act, (method, path) in OPERATIONS.items()
    }
    assert documented == {act: tuple(r.value for r in MATRIX[act]) for act in Act}


@pytest.mark.parametrize("who", ["dispatcher", "billing"])
async def test_the_job_page_reads_the_job_with_its_blockers_and_history(
    world: World, who: str
) -> None:
    done = await _new_job(world, tasks=[("Clean up site", True)])
    assert done.job_number
    loaded = await _loaded(world, done.job_number, who=who)
    assert loaded.overview.client.name == "Émile Zola"
    assert loaded.overview.property is not None
    assert [h["action"] for h in loaded.history][:1] == ["created"]
    assert loaded.profit is not None  # both roles may see profitability
    assert loaded.profit.revenue == 0  # no line items yet
    assert [t.title for t in loaded.overview.job.tasks if t.required] == [
        "Clean up site"
    ]


async def test_the_report_tab_shows_red_families_reserves_with_history_and_signatures(
    world: World,
) -> None:
    from dashboard.pages.job.model import report_images, report_view
    from tests.integration.api.test_perform_a_job import PHOTO, PNG, job_with_report

    _seed, job_id = await job_with_report(world, "Annual boiler check", auxiliary=True)
    await world.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    fields = {"fields": {"pressure": {"value": 1.4}, "remarks": {"value": "ok"}}}
    await world.call("tess", "PATCH", f"/jobs/{job_id}/report/fields", 200, fields)
    reserve = await world.call(
        "alex",
        "POST",
        f"/jobs/{job_id}/report/reserves",
        201,
        {"field_key": "remarks", "comment": "Flue cracked", "photos": [PHOTO]},
    )
    await world.call(
        "dispatcher",
        "PATCH",
        f"/jobs/{job_id}/report/reserves/{reserve['id']}",
        200,
        {"status": "resolved", "comment": "flue replaced"},
    )
    signed = {"signer_name": "Émile Zola", "image": PNG}
    await world.call(
        "tess", "PUT", f"/jobs/{job_id}/report/signatures/customer", 200, signed
    )
    number = (await world.call("dispatcher", "GET", f"/jobs/{job_id}", 200))["number"]
    loaded = await _loaded(world, number)
    assert loaded.report is not None
    view = report_view(loaded.report, number, loaded.user_names, UTC)
    safety, details = view["families"]
    assert (safety["name"], safety["red"], details["red"]) == (
        "Safety checks",
        True,
        False,
    )
    assert [(f["label"], f["missing"], f["value"]) for f in safety["fields"]] == [
        ("Gas tightness OK", True, "—"),
        ("Pressure (bar)", False, "1.4"),
        ("Installation approved", True, "—"),
    ]
    (shown,) = view["reserves"]
    assert (shown["field"], shown["status_label"], shown["comment"]) == (
        "Remarks",
        "Resolved",
        "Flue cracked",
    )
    assert shown["raised"].startswith("Alex")
    assert len(shown["photos"]) == 1
    (change,) = shown["history"]
    assert change.endswith(" · Resolved · Dispatcher — flue replaced")
    customer, technician = view["signatures"]
    assert (customer["signer"], customer["signed"], technician["signed"]) == (
        "Émile Zola",
        True,
        False,
    )
    assert technician["required"]
    assert customer["image"].rsplit("/", 1)[1] in report_images(loaded.report)
    assert "Gas tightness OK" in " ".join(view["blockers"])
    # the API's own report agrees
    api = await world.call("dispatcher", "GET", f"/jobs/{job_id}/report", 200)
    assert [r["status"] for r in api["reserves"]] == ["resolved"]
    assert api["signatures"]["customer"]["signer_name"] == "Émile Zola"


async def test_a_job_without_a_report_template_reads_without_a_report(
    world: World,
) -> None:
    done = await _new_job(world)
    assert done.job_number
    assert (await _loaded(world, done.job_number)).report is None


async def _completed_job_of_a_client_with_email(w: World) -> tuple[str, str]:
    """A completed job (with one line item) of a client who has an e-mail."""
    client = await w.call(
        "admin", "POST", "/clients", 201, {"name": "Café Zola", "email": "zola@ex.test"}
    )
    new = service.NewJob(
        client_id=client["id"], description="Boiler service", window=_tomorrow(9)
    )
    dispatcher = _user(w, "dispatcher")
    done = await _as(
        w,
        lambda o: o.create_job(
            dispatcher, new, [(w.people.technician_ids["tess"], CrewRole.JOB_MANAGER)]
        ),
    )
    assert done.job_number
    n = parse_job_number(done.job_number)
    assert n is not None
    (job,) = (await w.call("dispatcher", "GET", f"/jobs?q={n}", 200))["items"]
    item = {
        "description": "Service",
        "quantity": "1",
        "unit_price": "80",
        "tax_rate": "20",
    }
    await w.call("dispatcher", "POST", f"/jobs/{job['id']}/line-items", 201, item)
    start, end = _tomorrow(9)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    await w.call("dispatcher", "POST", f"/jobs/{job['id']}/schedule", 200, window)
    for act in ("start", "complete"):
        await w.call("dispatcher", "POST", f"/jobs/{job['id']}/{act}", 200)
    return job["id"], done.job_number


async def test_billing_generates_issues_and_sends_an_invoice_the_api_agrees(
    world: World,
) -> None:
    job_id, number = await _completed_job_of_a_client_with_email(world)
    billing, dispatcher = _user(world, "billing"), _user(world, "dispatcher")
    refused = await _as(world, lambda o: o.generate_invoice(dispatcher, job_id))
    assert not refused.ok
    assert "admin, billing" in refused.message  # the API's 403, from the one matrix
    done = await _as(world, lambda o: o.generate_invoice(billing, job_id))
    assert done.ok, done
    loaded = await _loaded(world, number, who="billing")
    assert loaded.invoices is not None
    (draft,) = loaded.invoices
    assert [line.description for line in draft.invoice.lines][:1] == ["Service"]
    # a stale page (it showed an older version) overwrites nothing
    stale = await _as(
        world,
        lambda o: o.send_invoice(billing, draft.invoice.id, draft.row_version - 1),
    )
    assert stale.stale
    assert world.smtp.inbox.messages == []
    # the dispatcher may read it but not void it
    void = await _as(
        world, lambda o: o.void_invoice(dispatcher, draft.invoice.id, draft.row_version)
    )
    assert not void.ok
    assert "admin, billing" in void.message
    sent = await _as(
        world, lambda o: o.send_invoice(billing, draft.invoice.id, draft.row_version)
    )
    assert sent.ok, sent
    (mail,) = world.smtp.inbox.messages
    assert mail["To"] == "zola@ex.test"
    (pdf,) = [
        p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"
    ]
    assert pdf.get_content().startswith(b"%PDF")
    api = await world.call("billing", "GET", f"/invoices/{draft.invoice.id}", 200)
    assert api["status"] == "issued"
    assert api["emailed_at"] is not None
    assert api["payment_url"]
    assert sent.message == f"{api['number']} sent."
    # the customer pays at Stripe: the page reads it paid
    reread = await _loaded(world, number, who="billing")
    assert reread.invoices is not None
    (issued,) = reread.invoices
    assert issued.payment_session_id
    assert await world.stripe.pay(issued.payment_session_id) == 200
    paid = await _loaded(world, number, who="billing")
    assert paid.invoices is not None
    assert [s.invoice.status.value for s in paid.invoices] == ["paid"]
    # the /invoices list's filters, through the same service
    from dashboard.pages.invoices import model as invoices_model

    async def listed(statuses: list[str], day: str) -> list[str]:
        filters = invoices_model.filters_from(
            UTC, statuses=statuses, client_id=None, day_from=day, day_to=day
        )

        async def read(conn: Conn, _actor: Actor) -> list[str]:
            found = await invoicing.list_invoices(
                conn, **filters.list_args(OffsetPaging())
            )
            return [s.invoice.id for s in found]

        return await _as(world, lambda o: o.read(billing, read))

    today = datetime.now(UTC).date().isoformat()
    assert await listed(["paid"], today) == [draft.invoice.id]
    assert await listed(["issued", "draft"], today) == []
    assert await listed([], "2001-01-01") == []


async def test_billing_credits_part_of_a_paid_invoice_on_the_invoice_tab(
    world: World,
) -> None:
    from dashboard.pages.job import model as job_model

    job_id, number = await _completed_job_of_a_client_with_email(world)  # 1 × 80
    billing = _user(world, "billing")
    assert (await _as(world, lambda o: o.generate_invoice(billing, job_id))).ok
    (draft,) = (await _loaded(world, number, who="billing")).invoices or []
    sent = await _as(
        world, lambda o: o.send_invoice(billing, draft.invoice.id, draft.row_version)
    )
    assert sent.ok, sent
    (issued,) = (await _loaded(world, number, who="billing")).invoices or []
    assert issued.payment_session_id
    assert await world.stripe.pay(issued.payment_session_id) == 200
    (paid,) = (await _loaded(world, number, who="billing")).invoices or []
    shown = {"invoice": paid.invoice.id, "line": 0}
    too_much = job_model.credit_body(
        paid.invoice.id, "late", None, None, ["2"], [shown]
    )
    refused = await _as(
        world,
        lambda o: o.credit_invoice(
            billing, paid.invoice.id, paid.row_version, too_much
        ),
    )
    assert not refused.ok
    assert refused.problems == {
        "/lines/0/quantity": "only 1 left to credit of this line"
    }
    body = job_model.credit_body(
        paid.invoice.id, " arrived late ", "5", "", ["0.25"], [shown]
    )
    assert body == {
        "reason": "arrived late",
        "lines": [{"line": 0, "quantity": "0.25"}],
        "amount": "5",
    }
    done = await _as(
        world,
        lambda o: o.credit_invoice(billing, paid.invoice.id, paid.row_version, body),
    )
    assert done.ok, done
    after = (await _loaded(world, number, who="billing")).invoices or []
    views = job_model.invoice_views(after, Role.BILLING, UTC)
    (invoice,) = [v for v in views if v["id"] == paid.invoice.id]
    assert (invoice["status"], invoice["lines"][0]["left"]) == ("paid", "0.75")
    assert invoice["credited"] == "Credited 30.00 · Left to credit 66.00 EUR"
    (note,) = invoice["credit_notes"]
    assert (note["total"], note["reason"]) == ("30.00 EUR", "arrived late")
    api = await world.call("billing", "GET", f"/invoices/{paid.invoice.id}", 200)
    assert api["credit"]["remaining_gross"] == "66.00"


async def _pump_job_started(world: World) -> tuple[Any, str]:
    """A started job at a client where an earlier job left pump OLD-1."""
    from tests.integration.api.test_perform_a_job import (
        install_old_pump,
        make_job,
        seed,
    )

    s = await seed(world)
    await install_old_pump(world, s)
    job_id = await make_job(world, s, "Replace the pump", auxiliary=False)
    await world.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    return s, job_id


async def test_the_parts_tab_lists_serials_and_what_became_of_each_unit_taken_back(
    world: World,
) -> None:
    from dashboard.pages.job.model import parts_view

    s, job_id = await _pump_job_started(world)
    part = {"item_id": s.items["pump"], "quantity": 1, "serials": ["P-1"]}
    await world.call("tess", "POST", f"/jobs/{job_id}/parts", 201, part)
    back = {"serial": "OLD-1", "condition": "needs_repair"}
    await world.call("tess", "POST", f"/jobs/{job_id}/take-backs", 201, back)
    unknown = {"serial": "X-77", "condition": "obsolete", "item_id": s.items["pump"]}
    await world.call("tess", "POST", f"/jobs/{job_id}/take-backs", 201, unknown)
    number = (await world.call("dispatcher", "GET", f"/jobs/{job_id}", 200))["number"]
    loaded = await _loaded(world, number)
    view = parts_view(
        loaded.parts.parts, loaded.parts.take_backs, loaded.depots, loaded.items, UTC
    )
    assert [(p["name"], p["serials"]) for p in view["parts"]] == [
        ("Circulator pump", "P-1")
    ]
    assert [
        (t["serial"], t["item"], t["condition_label"], t["found"])
        for t in view["take_backs"]
    ] == [
        ("OLD-1", "Circulator pump", "Needs Repair", "yes"),
        ("X-77", "Circulator pump", "Obsolete", "no (not on record here)"),
    ]
    assert view["take_backs"][0]["went_to"].startswith("depot ")


async def test_the_office_adds_parts_and_takes_units_back_on_the_parts_tab(
    world: World,
) -> None:
    from dashboard.pages.job import model as job_model
    from dashboard.pages.job.callbacks import parts_offered

    s, job_id = await _pump_job_started(world)
    job = await world.call("dispatcher", "GET", f"/jobs/{job_id}", 200)
    dispatcher, billing = _user(world, "dispatcher"), _user(world, "billing")
    offered = await _as(world, lambda o: parts_offered(o, dispatcher, job_id))
    assert offered is not None
    items, depots = offered
    assert s.items["pump"] in {i.id for i in items}
    assert s.depots["tess"] in {d.id for d in depots}
    assert await _as(world, lambda o: parts_offered(o, billing, job_id)) is None

    def add(body: dict[str, Any], version: int) -> Any:
        return _as(
            world,
            lambda o: o.parts_edit(dispatcher, Act.USE_PART, job_id, version, body),
        )

    no_depot = await add(
        job_model.part_body(s.items["valve"], "2", "", None), job["version"]
    )
    assert (no_depot.ok, no_depot.problems) == (
        False,
        {"/depot_id": "the office names the depot"},
    )
    pump = job_model.part_body(s.items["pump"], "1", " P-2 ", s.depots["tess"])
    assert pump["serials"] == ["P-2"]
    done = await add(pump, job["version"])
    assert done.ok, done
    assert done.message == f"{job['number']} part added."
    stale = await add(pump, job["version"] - 1)
    assert stale.stale
    back = job_model.take_back_body(
        "OLD-1", "needs_repair", None, s.depots["warehouse"]
    )
    taken = await _as(
        world,
        lambda o: o.parts_edit(dispatcher, Act.TAKE_BACK, job_id, job["version"], back),
    )
    assert taken.ok, taken
    parts = await world.call("tess", "GET", f"/jobs/{job_id}/parts", 200)
    assert [(p["name"], p["serials"]) for p in parts["items"]] == [
        ("Circulator pump", ["P-2"])
    ]
    unit = await world.call("dispatcher", "GET", "/serials/OLD-1", 200)
    assert unit["condition"] == "needs_repair"
    # a completed job's parts are final: no form, and the use case refuses
    await world.call("tess", "POST", f"/jobs/{job_id}/complete", 200)
    assert await _as(world, lambda o: parts_offered(o, dispatcher, job_id)) is None
    done_job = await world.call("dispatcher", "GET", f"/jobs/{job_id}", 200)
    final = await add(pump, done_job["version"])
    assert not final.ok
    assert "parts are final" in final.message


# -- the price book and report templates pages (issue 16) ------------------------------


async def test_the_price_book_page_adds_edits_and_archives_an_item_the_api_reads(
    world: World,
) -> None:
    from dashboard.pages.price_book import callbacks as book
    from dashboard.pages.price_book import layout as book_layout

    admin, billing = _user(world, "admin"), _user(world, "billing")
    done = await _as(world, lambda o: book.add_family(o, admin, "  "))
    assert done.problems == {"/name": "must not be empty"}
    done = await _as(world, lambda o: book.add_family(o, admin, "Gauges"))
    assert (done.ok, done.message) == (True, "Family Gauges added.")
    (family,) = [
        f
        for f in (await world.call("admin", "GET", "/price-book/families", 200))[
            "items"
        ]
        if f["name"] == "Gauges"
    ]
    values = [family["id"], "part", "GAU-1", "Pressure gauge", "", "twelve", "20"]
    done = await _as(world, lambda o: book.add_item(o, admin, *values))
    assert list(done.problems) == ["/unit_price"]
    values[5] = "12.40"
    done = await _as(world, lambda o: book.add_item(o, billing, *values))
    assert not done.ok
    assert "admin, dispatcher" in done.message  # the one matrix
    done = await _as(world, lambda o: book.add_item(o, admin, *values))
    assert done.ok, done
    again = await _as(world, lambda o: book.add_item(o, admin, *values))
    assert again.problems == {"/code": "another item already has this code"}
    (item,) = (await world.call("tess", "GET", "/price-book/items?q=gauge", 200))[
        "items"
    ]
    assert (item["unit_price"], item["version"]) == ("12.40", 0)
    edit = [family["id"], "part", "GAU-1", "Pressure gauge", "", "13.10", "20"]
    done = await _as(
        world,
        lambda o: book.edit_item(
            o, admin, book_layout.EDIT_SAVE, item["id"], 0, ["yes"], *edit
        ),
    )
    assert (done.ok, done.message) == (True, "Pressure gauge saved.")
    dispatcher = _user(world, "dispatcher")
    refused = await _as(
        world,
        lambda o: book.edit_item(
            o, dispatcher, book_layout.EDIT_SAVE, item["id"], 1, [], *edit
        ),
    )
    assert list(refused.problems) == ["/serialized"]  # stock settings: admin only
    stale = await _as(
        world,
        lambda o: book.edit_item(
            o, admin, book_layout.ARCHIVE, item["id"], 0, [], *edit
        ),
    )
    assert stale.stale
    done = await _as(
        world,
        lambda o: book.edit_item(
            o, admin, book_layout.ARCHIVE, item["id"], 1, [], *edit
        ),
    )
    assert (done.ok, done.message) == (True, "Pressure gauge archived.")
    read = await world.call("admin", "GET", f"/price-book/items/{item['id']}", 200)
    assert (read["unit_price"], read["active"], read["version"]) == ("13.10", False, 2)
    assert read["serialized"] is True


async def test_the_templates_page_adds_a_field_that_only_new_reports_get(
    world: World,
) -> None:
    from dashboard.pages.report_templates import callbacks as pages
    from dashboard.pages.report_templates import layout as rt
    from tests.integration.api.test_perform_a_job import job_with_report

    admin = _user(world, "admin")
    made = await _as(
        world,
        lambda o: pages.create_template(
            o, admin, "Gauge check", ["technician"], "Readings", "", "", "number", []
        ),
    )
    assert made.problems == {"/label": "must not be empty"}
    made = await _as(
        world,
        lambda o: pages.create_template(
            o,
            admin,
            "Gauge check",
            [],
            "Readings",
            "Reading (bar)",
            "",
            "number",
            ["yes"],
        ),
    )
    assert (made.ok, made.message) == (True, "Template Gauge check created."), made
    seed, job_id = await job_with_report(world, "Annual boiler check")
    tid = seed.template_id

    def add(version: int, label: str, key: str = "") -> Callable[[Office], Done]:
        return lambda o: pages.edit_template(
            o,
            admin,
            rt.ADD_FIELD,
            tid,
            version,
            "Safety checks",
            label,
            key,
            "checkbox",
            ["yes"],
            None,
            None,
            None,
        )

    done = await _as(world, add(0, "Gas tightness again", "gas_tight"))
    assert done.problems == {"/key": "duplicate field key in this template"}
    done = await _as(world, add(0, "Flue sealed"))
    assert (done.ok, done.message) == (
        True,
        "Field Flue sealed added to Safety checks.",
    )
    stale = await _as(world, add(0, "Another"))
    assert stale.stale
    dispatcher = _user(world, "dispatcher")
    refused = await _as(
        world,
        lambda o: pages.edit_template(
            o, dispatcher, rt.SAVE_NAME, tid, 1, *[None] * 5, "X", [], None
        ),
    )
    assert not refused.ok
    assert "admin" in refused.message
    body = await world.call("admin", "GET", f"/report-templates/{tid}", 200)
    (safety,) = [f for f in body["families"] if f["key"] == "safety"]
    assert safety["fields"][-1] == {
        "key": "flue_sealed",
        "label": "Flue sealed",
        "type": "checkbox",
        "mandatory": True,
    }
    started = await world.call("dispatcher", "GET", f"/jobs/{job_id}/report", 200)
    keys = [f["key"] for fam in started["families"] for f in fam["fields"]]
    assert "flue_sealed" not in keys  # the report keeps the copy it began with
