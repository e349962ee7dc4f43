"""The Job page's callbacks: load the job into its tabs, and each edit.

Reads go through the services the API reads with (``load`` below), as the
logged-in user; every edit through :class:`dashboard.actions.Office` with the
version the page showed, so a stale page is told so instead of overwriting.
After an edit the page reloads the job (``JOB_REFRESH``): it shows its own
change, and a refused or stale one shows the job as it now is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dash
import flask
from dash import ALL, Input, Output, State, html
from dash.exceptions import PreventUpdate

from core.reconcile import Reconciliation
from dashboard import forms, line_items, queries
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user, result_view
from dashboard.pages.job import figures, layout, model, panels
from dashboard.pages.jobs.model import (
    NewJobForm,
    address_text,
    planned_window,
    window_text,
)
from dashboard.shell import BLANK
from delivery import wiring
from delivery.pdf import preview_png
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import Blocker, DomainError, InvalidInput, NotFound
from jobs_domain.images import Image
from jobs_domain.job import (
    Attachment,
    CrewRole,
    Job,
    JobStatus,
    NoteVisibility,
    Profitability,
    parse_job_number,
)
from jobs_domain.parts import Depot, PriceBookItem
from jobs_domain.permissions import Act, allowed, require
from jobs_domain.report import Report
from services import completion, directory, invoicing, price_book, reports
from services import jobs as service
from services import parts as parts_service
from services.jobs import Overview
from storage import attachments as files
from storage import parts as parts_store
from storage import users
from storage.clients import TechnicianRecord
from storage.invoices import StoredInvoice

HISTORY_LIMIT = 500  # entries the History tab shows (newest first)
CHOICES = 500  # technicians a drop-down lists


@dataclass(frozen=True)
class Loaded:
    """Everything the Job page shows, read in one transaction."""

    overview: Overview
    other_blockers: list[Blocker]
    history: list[dict[str, Any]]
    profit: Profitability | None
    families: list[dict[str, Any]]
    technicians: list[TechnicianRecord]
    report: Report | None  # None: no template assigned
    user_names: dict[str, str]  # who raised, changed or signed in the report
    invoices: list[StoredInvoice] | None  # None: the role may not read invoices
    parts: parts_service.JobParts
    depots: dict[str, str]  # depot id → name
    items: dict[str, str]  # price-book id → name, of the units taken back


async def load(conn: Conn, actor: Actor, number: int) -> Loaded:
    """The job with that number, as the API's services read it for ``actor``."""
    job = await service.load_visible_by_number(conn, actor, number)
    (overview,) = await service.overviews(conn, [job])
    used = await parts_service.job_parts(conn, job)
    try:
        report: Report | None = await reports.load_report(conn, job)
    except NotFound:
        report = None
    return Loaded(
        overview=overview,
        other_blockers=await completion.other_blockers(conn, job),
        history=await service.history(conn, job, after=0, limit=HISTORY_LIMIT),
        profit=await service.profitability(conn, job)
        if allowed(actor.role, Act.SEE_PROFITABILITY)
        else None,
        families=await price_book.list_families(conn),
        technicians=await directory.list_technicians(conn, after=None, limit=CHOICES),
        report=report,
        user_names=await users.user_names(conn, _report_people(report)),
        invoices=await invoicing.list_invoices(conn, client_id=None, job_id=job.id)
        if allowed(actor.role, Act.READ_INVOICES)
        else None,
        parts=used,
        depots={d.id: d.name for d in await parts_service.list_depots(conn)},
        items={
            i: item.name
            for i in {t.item_id for t in used.take_backs}
            if (item := await parts_store.get_item(conn, i)) is not None
        },
    )


def parts_offered(
    office: Office, user: OfficeUser, job_id: str
) -> tuple[list[PriceBookItem], list[Depot]] | None:
    """The price book and the depots for the Parts tab's forms, or None when
    the role (the matrix) or the job (``services.parts.ensure_parts_editable``,
    the rule the use cases run) does not allow them now."""
    actor = user.actor()
    if not (allowed(actor.role, Act.USE_PART) or allowed(actor.role, Act.TAKE_BACK)):
        return None

    async def read(
        conn: Conn, actor: Actor
    ) -> tuple[list[PriceBookItem], list[Depot]] | None:
        job = await service.load_visible(conn, actor, job_id)
        try:
            parts_service.ensure_parts_editable(actor, job)
        except DomainError:
            return None
        catalogue = await parts_service.search_catalog(
            conn, query=None, family=None, kind=None, serialized=None
        )
        return catalogue.items, await parts_service.list_depots(conn)

    return office.read(user, read)


def _report_people(report: Report | None) -> list[str]:
    if report is None:
        return []
    ids = {r.raised_by for r in report.reserves}
    ids |= {c.by for r in report.reserves for c in r.history}
    ids |= {s.signed_by for s in report.signatures.values()}
    ids |= {report.completed_by} if report.completed_by else set()
    return sorted(ids)


def _overview_facts(loaded: Loaded, ctx: Context) -> list[tuple[str, Any]]:
    ov = loaded.overview
    job = ov.job
    site = "no property" if ov.property is None else address_text(ov.property)
    contact = job.site_contact
    facts: list[tuple[str, Any]] = [
        ("Client", ov.client.name),
        ("Property", site),
        (
            "Scheduled",
            window_text(job.scheduled_start, job.scheduled_end, ctx.zone) or "not yet",
        ),
        ("Crew", panels.crew(model.crew_rows(job, ov.names))),
    ]
    if contact.name or contact.phone:
        facts.append(("Site contact", f"{contact.name} {contact.phone}".strip()))
    if job.hold_reason:
        facts.append(("On hold because", job.hold_reason))
    if job.cancellation is not None:
        facts.append(("Cancelled because", job.cancellation.reason))
    for name, value in job.custom_fields.items():
        facts.append((name.replace("_", " ").capitalize(), str(value)))
    return facts


def _derived(ctx: Context, job: Job) -> dict[str, Reconciliation | None]:
    """Each session's newest derived arrival/departure (None: not derived yet)."""
    found: dict[str, Reconciliation | None] = {}
    for s in job.sessions:
        row = queries.derivation(ctx.sources, s.id)
        found[s.id] = (
            None if row is None else Reconciliation.from_dict(row.reconciliation)
        )
    return found


def _tech_options(techs: list[TechnicianRecord]) -> list[dict[str, str]]:
    return sorted(
        (
            {"label": t.name + (f" ({t.team})" if t.team else ""), "value": str(t.id)}
            for t in techs
        ),
        key=lambda o: o["label"],
    )


Seen = tuple[str, int]  # the job's id and the version the page showed
FormRun = Callable[..., Done]  # (office, user, seen, *values) -> Done
#: the quantity to credit typed on each line of each invoice shown
CREDIT_QTY = {"type": layout.INV_CREDIT_QTY, "invoice": ALL, "line": ALL}


def edit_form(
    app: dash.Dash,
    ctx: Context,
    *,
    submit: forms.Submit,
    result: str,
    values: Sequence[tuple[Any, str]],
    run: FormRun,
    clear: Sequence[str] = (),
    duplicate_result: bool = False,
) -> None:
    """One form's edit of the job the page shows (``forms.wire`` with the
    version the page showed, and the page's refresh)."""

    def on_job(office: Office, user: OfficeUser, *rest: Any) -> Done:
        *typed, seen = rest
        if not seen:
            raise PreventUpdate
        return run(office, user, (seen["id"], int(seen["version"])), *typed)

    forms.wire(
        app,
        ctx,
        submit=submit,
        result=result,
        refresh=layout.JOB_REFRESH,
        states=[
            *[State(i, prop) for i, prop in values],
            State(layout.JOB_SEEN, "data"),
        ],
        run=on_job,
        clear=clear,
        duplicate_result=duplicate_result,
    )


def serve_files(app: dash.Dash, ctx: Context) -> None:
    """Serve a job's photos and documents at ``model.FILES_PATH`` to whoever may
    see the job (the login check runs first, as for every dashboard path)."""

    def job_file(number: str, attachment_id: str) -> Any:
        user = flask.g.get("user")
        n = parse_job_number(number)
        if user is None or ctx.actions is None or n is None:
            flask.abort(404)
        office = ctx.actions.office
        me = OfficeUser(str(user.user_id), user.name, user.role)

        async def find(conn: Conn, actor: Actor) -> Attachment:
            job = await service.load_visible_by_number(conn, actor, n)
            return service.attachment_of(job, attachment_id)

        try:
            found = office.read(me, find)
        except DomainError:
            flask.abort(404)
        root = Path(office.settings.attachments_dir)
        return flask.send_file(
            files.path_for(root, found.sha256),
            mimetype=found.content_type,
            as_attachment=flask.request.args.get("download") == "1",
            download_name=found.filename,
            etag=found.sha256,
            max_age=3600,
        )

    app.server.add_url_rule(
        model.FILES_PATH + "/<number>/<attachment_id>", "job_file", job_file
    )


def serve_report_images(app: dash.Dash, ctx: Context) -> None:
    """Serve the images of a job's report (signatures, reserve photos) at
    ``model.IMAGES_PATH`` to whoever may see the job, and only the report's own."""

    def report_image(number: str, sha256: str) -> Any:
        user = flask.g.get("user")
        n = parse_job_number(number)
        if user is None or ctx.actions is None or n is None:
            flask.abort(404)
        me = OfficeUser(str(user.user_id), user.name, user.role)

        async def find(conn: Conn, actor: Actor) -> Image:
            job = await service.load_visible_by_number(conn, actor, n)
            if sha256 not in model.report_images(await reports.load_report(conn, job)):
                raise NotFound("image not found")
            return await reports.get_image(conn, sha256)

        try:
            image = ctx.actions.office.read(me, find)
        except DomainError:
            flask.abort(404)
        response = flask.make_response(image.data)
        response.headers["Content-Type"] = image.content_type
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
        return response

    app.server.add_url_rule(
        model.IMAGES_PATH + "/<number>/<sha256>", "job_report_image", report_image
    )


def serve_invoice_pdfs(app: dash.Dash, ctx: Context) -> None:
    """Serve an invoice's PDF (``model.INVOICE_PDF_PATH``/<id>), the one that is
    mailed, and a PNG of its page 1 (``/preview.png``), to the roles that read
    invoices."""

    def invoice_pdf(invoice_id: str, preview: bool = False) -> Any:
        user = flask.g.get("user")
        if user is None or ctx.actions is None:
            flask.abort(404)
        office = ctx.actions.office
        me = OfficeUser(str(user.user_id), user.name, user.role)

        async def find(conn: Conn, actor: Actor) -> tuple[StoredInvoice, str | None]:
            require(actor, Act.READ_INVOICES)
            stored = await invoicing.load(conn, invoice_id)
            return stored, await invoicing.job_reference(conn, stored.invoice)

        try:
            uuid.UUID(invoice_id)
            stored, reference = office.read(me, find)
        except (DomainError, ValueError):
            flask.abort(404)
        pdf = wiring.render(
            office.settings, stored.invoice, reference, stored.payment_url
        )
        name = stored.invoice.number or f"draft-{stored.invoice.id}"
        if preview:
            response = flask.make_response(preview_png(pdf))
            response.headers["Content-Type"] = "image/png"
        else:
            response = flask.make_response(pdf)
            response.headers["Content-Type"] = "application/pdf"
            response.headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        response.headers["Cache-Control"] = "private, no-cache"
        return response

    app.server.add_url_rule(
        model.INVOICE_PDF_PATH + "/<invoice_id>", "invoice_pdf", invoice_pdf
    )
    app.server.add_url_rule(
        model.INVOICE_PDF_PATH + "/<invoice_id>/preview.png",
        "invoice_preview",
        lambda invoice_id: invoice_pdf(invoice_id, preview=True),
    )


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Job page's callbacks (and its file routes) to ``app``."""
    serve_files(app, ctx)
    serve_report_images(app, ctx)
    serve_invoice_pdfs(app, ctx)
    tabs = [v for v, _ in model.TABS]
    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function (_clicks) {
            const t = dash_clientside.callback_context.triggered_id;
            if (!t || !t.tab) { return dash_clientside.no_update; }
            return t.tab;
        }""",
        Output(layout.TAB_STATE, "data"),
        Input({"type": layout.TAB_BUTTON, "tab": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function (tab) { const tabs = "
        + json.dumps(tabs)
        + "; return [tabs.map(t => t === tab ? 'job-tab active' : 'job-tab'),"
        " ...tabs.map(t => t !== tab)]; }",
        Output({"type": layout.TAB_BUTTON, "tab": ALL}, "className"),
        *[Output(layout.panel_id(t), "hidden") for t in tabs],
        Input(layout.TAB_STATE, "data"),
    )

    @app.callback(
        Output(layout.HEADER, "children"),
        Output(layout.LOAD_ERROR, "children"),
        Output(layout.JOB_SEEN, "data"),
        Output(layout.body_id("overview"), "children"),
        Output(layout.SITE_MAP, "figure"),
        Output(layout.SITE_MAP, "style"),
        Output(layout.ACTIONS, "children"),
        Output(layout.SCHEDULE_FORM, "hidden"),
        Output(layout.REASON_FIELD, "hidden"),
        Output(layout.SCHED_TECH, "options"),
        Output(layout.CREW_FORM, "hidden"),
        Output(layout.CREW_TECH, "options"),
        Output(layout.body_id("line-items"), "children"),
        Output(layout.LI_FORM, "hidden"),
        Output(layout.LI_FAMILY, "options"),
        Output(layout.body_id("tasks"), "children"),
        Output(layout.TASK_STATE, "data"),
        Output(layout.TASK_FORM, "hidden"),
        Output(layout.body_id("expenses"), "children"),
        Output(layout.body_id("photos"), "children"),
        Output(layout.body_id("notes"), "children"),
        Output(layout.NOTE_FORM, "hidden"),
        Output(layout.body_id("report"), "children"),
        Output(layout.body_id("parts"), "children"),
        Output(layout.body_id("invoice"), "children"),
        Output(layout.INV_FORM, "hidden"),
        Output(layout.INV_GENERATE, "disabled"),
        Output(layout.body_id("sessions"), "children"),
        Output(layout.body_id("history"), "children"),
        Input(layout.JOB_REF, "data"),
        Input(layout.JOB_REFRESH, "data"),
    )
    def _load(ref: dict[str, str] | None, _refresh: Any) -> Any:
        user, office = current_user(ctx)
        number = parse_job_number((ref or {}).get("number") or "")
        nothing = (dash.no_update,) * 27
        if number is None:
            return html.H3("No job"), "Open a job from the Jobs list.", *nothing
        try:
            loaded = office.read(user, lambda c, a: load(c, a, number))
        except DomainError as exc:
            return html.H3("No job"), exc.message, *nothing
        actor = user.actor()
        ov = loaded.overview
        job = ov.job
        now = datetime.now(UTC)
        role = Role(user.role)
        offered = model.offered_actions(job, actor, now, loaded.other_blockers)
        fig = (
            None if ov.property is None else figures.site_map(ov.property, ctx.tile_url)
        )
        names = {**{str(t.id): t.name for t in loaded.technicians}, **ov.names}
        li_rows, totals = model.line_item_rows(job.line_items)
        profit = (
            None
            if loaded.profit is None
            else {
                "revenue": model.money(loaded.profit.revenue),
                "expenses": model.money(loaded.profit.expenses),
                "labour": model.money(loaded.profit.labour),
                "hours": str(loaded.profit.labour_hours),
                "profit": model.money(loaded.profit.profit),
            }
        )
        techs = _tech_options(loaded.technicians)
        may_tick = model.may_edit(job, actor, Act.TICK_TASK, now)
        return (
            panels.header(
                job.display_number,
                job.status.value,
                model.status_label(job.status),
                ov.client.name,
                job.description,
            ),
            None,
            {"id": job.id, "version": job.version, "number": job.display_number},
            panels.facts(_overview_facts(loaded, ctx)),
            BLANK if fig is None else fig,
            {"height": "240px"} if fig is not None else {"display": "none"},
            panels.actions(offered),
            not any(o.act is Act.SCHEDULE for o in offered),
            not any(o.act in model.NEEDS_REASON for o in offered),
            techs,
            not model.may_edit(job, actor, Act.ASSIGN_CREW, now),
            techs,
            panels.line_items(li_rows, totals),
            not model.may_edit(job, actor, Act.ADD_LINE_ITEM, now),
            line_items.family_options(loaded.families),
            panels.tasks(model.task_rows(job, ctx.zone), may_tick),
            {t.id: t.done for t in job.tasks},
            not model.may_edit(job, actor, Act.ADD_TASK, now),
            panels.expenses(model.expense_rows(job, ctx.zone), profit),
            panels.attachments(model.attachment_groups(job, ctx.zone)),
            panels.notes(model.note_rows(job.notes, ctx.zone)),
            not model.may_edit(job, actor, Act.ADD_NOTE, now),
            panels.report(
                None
                if loaded.report is None
                else model.report_view(
                    loaded.report, job.display_number, loaded.user_names, ctx.zone
                )
            ),
            panels.parts(
                model.parts_view(
                    loaded.parts.parts,
                    loaded.parts.take_backs,
                    loaded.depots,
                    loaded.items,
                    ctx.zone,
                )
            ),
            panels.invoices(
                None
                if loaded.invoices is None
                else model.invoice_views(loaded.invoices, role, ctx.zone)
            ),
            not allowed(role, Act.GENERATE_INVOICE),
            job.status is not JobStatus.COMPLETED
            or not model.may_generate(loaded.invoices or []),
            panels.sessions(
                model.session_rows(job, names, _derived(ctx, job), ctx.zone, now)
            ),
            panels.history(model.history_rows(loaded.history, names, ctx.zone)),
        )

    # -- status actions ---------------------------------------------------------

    def act(
        office: Office,
        user: OfficeUser,
        seen: Seen,
        reason: str | None,
        day: str | None,
        start: str | None,
        end: str | None,
        tech: str | None,
    ) -> Done:
        trigger = dash.ctx.triggered_id
        if not isinstance(trigger, Mapping):
            raise PreventUpdate
        act = Act[str(trigger["act"])]
        if act is not Act.SCHEDULE:
            return office.status(user, *seen, act, reason or "")
        try:
            window = planned_window(
                NewJobForm(None, None, "", day, start, end, None), ctx.zone
            )
        except InvalidInput as exc:
            return Done(
                False,
                f"Not scheduled: {exc.message}",
                problems={p.pointer: p.message for p in exc.problems},
            )
        return office.schedule(
            user,
            *seen,
            start=None if window is None else window[0],
            end=None if window is None else window[1],
            technician_id=tech or None,
        )

    edit_form(
        app,
        ctx,
        submit=forms.Submit.one(
            {"type": layout.ACT_BUTTON, "act": ALL}, layout.SCHEDULE_FIELDS
        ),
        result=layout.ACT_RESULT,
        values=[
            (i, "value")
            for i in (
                layout.REASON,
                layout.SCHED_DAY,
                layout.SCHED_START,
                layout.SCHED_END,
                layout.SCHED_TECH,
            )
        ],
        run=act,
    )

    def crew(
        office: Office, user: OfficeUser, seen: Seen, tech: Any, role: Any
    ) -> Done:
        if not tech:
            return forms.refused(
                "pick a technician", "/path/technician_id", "pick a technician"
            )
        return office.assign(user, *seen, tech, CrewRole(role or "auxiliary"))

    edit_form(
        app,
        ctx,
        submit=forms.Submit.one(layout.CREW_SAVE, layout.CREW_FIELDS),
        result=layout.CREW_RESULT,
        values=[(layout.CREW_TECH, "value"), (layout.CREW_ROLE, "value")],
        run=crew,
    )

    # -- parts & serials --------------------------------------------------------

    @app.callback(
        Output(layout.PART_FORMS, "hidden"),
        Output(layout.PART_ITEM, "options"),
        Output(layout.PART_DEPOT, "options"),
        Output(layout.TB_ITEM, "options"),
        Output(layout.TB_DEPOT, "options"),
        Input(layout.JOB_SEEN, "data"),
    )
    def _parts_forms(seen: dict[str, Any] | None) -> Any:
        if not seen:
            raise PreventUpdate
        user, office = current_user(ctx)
        offered = parts_offered(office, user, str(seen["id"]))
        if not offered:
            return True, [], [], [], []
        items, depots = offered
        serialized = [i for i in items if i.serialized]
        places = [{"label": d.name, "value": d.id} for d in depots]
        return (
            False,
            model.item_options(items),
            places,
            model.item_options(serialized),
            places,
        )

    for parts_act, form, to_body in (
        (Act.USE_PART, layout.PART_FORM, model.part_body),
        (Act.TAKE_BACK, layout.TB_FORM, model.take_back_body),
    ):
        edit_form(
            app,
            ctx,
            submit=forms.Submit.one(form.button, form.pointers),
            result=form.result,
            values=[(i, "value") for i in form.inputs],
            run=lambda office, user, seen, *typed, a=parts_act, body=to_body: (
                office.parts_edit(user, a, *seen, body(*typed))
            ),
            clear=[form.clear],
        )

    # -- line items -------------------------------------------------------------

    line_items.register_search(app, ctx, layout.LI)

    def add_line_item(
        office: Office, user: OfficeUser, seen: Seen, *typed: str | None
    ) -> Done:
        raw = line_items.raw_item(layout.LI, dash.ctx.triggered_id, *typed)
        if isinstance(raw, Done):
            return raw
        return office.add_line_item(user, *seen, raw)

    edit_form(
        app,
        ctx,
        submit=forms.Submit(
            (
                (layout.LI.add, layout.LI.book_fields),
                (layout.LI.cadd, layout.LI.custom_fields),
            )
        ),
        result=layout.LI_RESULT,
        values=[(i, "value") for i in layout.LI.slots],
        run=add_line_item,
    )

    # -- tasks ------------------------------------------------------------------

    @app.callback(
        Output(layout.TASK_RESULT, "children"),
        Output(layout.JOB_REFRESH, "data", allow_duplicate=True),
        Input({"type": layout.TASK_BOX, "task": ALL}, "value"),
        State(layout.TASK_STATE, "data"),
        State(layout.JOB_SEEN, "data"),
        State(layout.JOB_REFRESH, "data"),
        prevent_initial_call=True,
    )
    def _tick(
        _values: Any,
        shown: dict[str, bool] | None,
        seen: dict[str, Any] | None,
        refresh: int | None,
    ) -> Any:
        trigger = dash.ctx.triggered_id
        if not isinstance(trigger, Mapping) or not seen or shown is None:
            raise PreventUpdate
        task_id = str(trigger["task"])
        done_now = "done" in (dash.ctx.triggered[0]["value"] or [])
        if shown.get(task_id) == done_now:
            raise PreventUpdate  # the page drew it so: not a click
        user, office = current_user(ctx)
        done = office.tick_task(
            user, seen["id"], int(seen["version"]), task_id, done_now
        )
        return result_view(done), (refresh or 0) + 1  # redraw: a refusal unticks

    edit_form(
        app,
        ctx,
        submit=forms.Submit.one(layout.TASK_ADD, layout.TASK_FIELDS),
        result=layout.TASK_RESULT,
        values=[(layout.TASK_TITLE, "value"), (layout.TASK_REQUIRED, "value")],
        run=lambda office, user, seen, title, required: office.add_task(
            user, *seen, title or "", "yes" in (required or [])
        ),
        clear=[layout.TASK_TITLE],
        duplicate_result=True,
    )

    # -- notes ------------------------------------------------------------------

    edit_form(
        app,
        ctx,
        submit=forms.Submit.one(layout.NOTE_ADD, layout.NOTE_FIELDS),
        result=layout.NOTE_RESULT,
        values=[(layout.NOTE_TEXT, "value"), (layout.NOTE_VIS, "value")],
        run=lambda office, user, seen, text, visibility: office.add_note(
            user, *seen, NoteVisibility(visibility or "internal"), text or ""
        ),
        clear=[layout.NOTE_TEXT],
    )

    # -- invoice ----------------------------------------------------------------

    def invoice_act(
        office: Office,
        user: OfficeUser,
        seen: Seen,
        reason: str | None,
        amount: str | None,
        tax_rate: str | None,
        quantities: list[str | None] | None,
        quantity_ids: list[dict[str, Any]] | None,
    ) -> Done:
        trigger = dash.ctx.triggered_id
        if trigger == layout.INV_GENERATE:
            return office.generate_invoice(user, seen[0])
        if not isinstance(trigger, Mapping):
            raise PreventUpdate
        act = Act[str(trigger["act"])]
        invoice_id, version = str(trigger["invoice"]), int(trigger["version"])
        if act is Act.ISSUE_INVOICE:
            return office.issue_invoice(user, invoice_id, version)
        if act is Act.SEND_INVOICE:
            return office.send_invoice(user, invoice_id, version)
        if act is Act.VOID_INVOICE:
            return office.void_invoice(user, invoice_id, version)
        body = model.credit_body(
            invoice_id, reason, amount, tax_rate, quantities or [], quantity_ids or []
        )
        return office.credit_invoice(user, invoice_id, version, body)

    edit_form(
        app,
        ctx,
        submit=forms.Submit(
            (
                (layout.INV_GENERATE, {}),
                (
                    {
                        "type": layout.INV_ACT,
                        "act": ALL,
                        "invoice": ALL,
                        "version": ALL,
                    },
                    {
                        "/reason": layout.INV_REASON,
                        "/amount": layout.INV_AMOUNT,
                        "/tax_rate": layout.INV_TAX,
                    },
                ),
            )
        ),
        result=layout.INV_RESULT,
        values=[
            (layout.INV_REASON, "value"),
            (layout.INV_AMOUNT, "value"),
            (layout.INV_TAX, "value"),
            (CREDIT_QTY, "value"),
            (CREDIT_QTY, "id"),
        ],
        run=invoice_act,
        clear=[layout.INV_REASON, layout.INV_AMOUNT, layout.INV_TAX],
    )
