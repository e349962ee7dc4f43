"""``crewtrack seed-demo``: the demo company, created through the services layer.

Idempotent: every record is looked up by its natural key first (a user by
e-mail, a client by name, a site by its street, an item by its code, a depot
or a template by its name, a job by the ``demo`` key in its custom fields), so
a second run creates nothing. A day's jobs are planned once, in one
transaction, the first time a run sees that day (company time zone): today's
around the moment of that run (some already done, one in progress, one late,
one on hold), tomorrow's from 8:00. A later run on the same day catches up:
jobs whose window has long passed are lived as history (clocked in and out
with the technician's phone, report filled, a part used, completed).

Logins created are returned once (the CLI prints them) and kept owner-only in
``<home>/demo-logins.json``; the phones' credentials and their technicians'
API tokens in ``<home>/demo-fleet.json``, read by the living day.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg

from crewtrack.demo import company as co
from crewtrack.servers import write_private
from crewtrack.settings import Settings
from ingest.broker_auth import hash_mqtt_password
from jobs_domain.actors import Actor, Role
from jobs_domain.job import Job, JobStatus
from jobs_domain.parts import DepotKind
from jobs_domain.sessions import Position, SessionKind
from services import completion, directory, parts, price_book, reports
from services import jobs as jobs_service
from services.clock import Recorded
from services.sessions import clock_from_app
from storage.devices import add_device
from storage.users import User, create_user, find_user_by_email, issue_token

AConn = psycopg.AsyncConnection[Any]
SOURCE = "seed-demo"
CATCH_UP_AFTER = timedelta(minutes=30)  # a window over this long is history
HISTORY_DWELL = timedelta(minutes=35)  # a morning job's time on site
HOLD_STAY = timedelta(minutes=9)  # on site before the job went On Hold
LOGINS_FILE = "demo-logins.json"
FLEET_FILE = "demo-fleet.json"
TOKEN_TTL = timedelta(days=90)


TechInput = tuple[co.Person, User, str, tuple[str, ...]]  # person, user, tech, devices


class SeedError(RuntimeError):
    """The demo cannot be seeded as asked (lost phone credentials, …)."""


@dataclass
class SeedReport:
    """What a run created (by kind) and the logins it made (shown once)."""

    created: dict[str, int] = field(default_factory=dict)
    new_logins: list[dict[str, str]] = field(default_factory=list)
    days_planned: list[str] = field(default_factory=list)
    lived_as_history: int = 0

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


@dataclass
class Company:
    """The records a day's plan refers to, by natural key."""

    office: Actor
    technicians: list[Actor]  # in co.TECHNICIANS order
    devices: list[str]
    clients: list[str]  # in co.CLIENTS order
    sites: list[str]  # in co.ALL_SITES order
    items: dict[str, str]  # code -> id
    templates: dict[str, str]  # name -> id
    vans: list[str]  # depot id per technician


def _no_check(_: object) -> None:
    return None


def fleet_path(settings: Settings) -> Path:
    return settings.home / FLEET_FILE


def logins_path(settings: Settings) -> Path:
    return settings.home / LOGINS_FILE


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def seed_demo(settings: Settings, *, now: datetime | None = None) -> SeedReport:
    """Seed (or extend) the demo company; what was created."""
    return asyncio.run(_seed(settings, now or datetime.now(UTC)))


async def _seed(settings: Settings, now: datetime) -> SeedReport:
    report = SeedReport()
    users = _ensure_users(settings, report)
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as conn:
        company = await _ensure_company(conn, settings, users, report)
        zone = settings.company_zone
        today = now.astimezone(zone).date()
        tomorrow = today + timedelta(days=1)
        await _ensure_day(conn, company, today.isoformat(), now, now, True, report)
        anchor = datetime.combine(tomorrow, time(co.TOMORROW_START_HOUR), zone)
        await _ensure_day(
            conn, company, tomorrow.isoformat(), anchor, now, False, report
        )
        await _catch_up(conn, company, now, report)
    return report


# -- people ---------------------------------------------------------------------------


def _ensure_users(settings: Settings, report: SeedReport) -> dict[str, User]:
    """Every demo user by e-mail; new ones get a password, shown once."""
    found: dict[str, User] = {}
    logins = _read(logins_path(settings))
    with psycopg.connect(settings.database_url) as conn:
        for person in co.USERS:
            user = find_user_by_email(conn, person.email)
            if user is None:
                password = secrets.token_urlsafe(9)
                user = create_user(
                    conn, person.name, person.role, person.email, password
                )
                logins[person.email] = {
                    "name": person.name,
                    "role": person.role,
                    "password": password,
                }
                report.new_logins.append(
                    {"email": person.email, **logins[person.email]}
                )
                report.count("users")
            found[person.email] = user
    if report.new_logins:
        write_private(logins_path(settings), json.dumps(logins, indent=1))
    return found


def _ensure_devices(
    settings: Settings,
    techs: list[TechInput],
    report: SeedReport,
) -> None:
    """A registered phone per technician; credentials and a token in the fleet file."""
    path = fleet_path(settings)
    fleet = _read(path)
    changed = False
    with psycopg.connect(settings.database_url) as conn:
        for person, user, tech_id, device_ids in techs:
            dev = person.device_id
            entry = fleet.get(dev)
            if dev not in device_ids:
                creds = add_device(
                    conn,
                    dev,
                    hash_password=hash_mqtt_password,
                    user_id=user.id,
                    label=f"{person.name}'s phone",
                    service_users=[settings.mqtt_username],
                )
                entry = {"mqtt_password": creds.mqtt_password}
                report.count("devices")
            elif entry is None:
                raise SeedError(
                    f"{dev} is registered but its credentials are not in {path}: "
                    f"revoke it (crewtrack admin revoke-device {dev}) or restore the file"
                )
            if "api_token" not in entry:
                entry["api_token"] = issue_token(
                    conn, user.id, "demo day", ttl=TOKEN_TTL
                )
            entry.update(
                technician_id=tech_id,
                user_id=str(user.id),
                name=person.name,
                email=person.email,
            )
            if fleet.get(dev) != entry:
                fleet[dev] = entry
                changed = True
    if changed:
        write_private(path, json.dumps(fleet, indent=1))


# -- the company's records ---------------------------------------------------------------


async def _ensure_company(
    conn: AConn, settings: Settings, users: dict[str, User], report: SeedReport
) -> Company:
    admin = users[co.OFFICE[0].email]
    office = Actor(str(admin.id), Role.ADMIN, admin.name, source=SOURCE)

    technicians, fleet_input = await _ensure_technicians(conn, users, report)
    _ensure_devices(settings, fleet_input, report)
    async with conn.transaction():
        clients, sites = await _ensure_clients(conn, report)
        items = await _ensure_price_book(conn, report)
        templates = {t.name: t.id for t in await reports.list_templates(conn)}
        for body in co.TEMPLATES:
            if body["name"] not in templates:
                made = await reports.create_template(conn, body)
                templates[made.name] = made.id
                report.count("report_templates")
        vans = await _ensure_depots(conn, office, technicians, items, report)
    return Company(
        office,
        technicians,
        [p.device_id for p in co.TECHNICIANS],
        clients,
        sites,
        items,
        templates,
        vans,
    )


async def _ensure_technicians(
    conn: AConn, users: dict[str, User], report: SeedReport
) -> tuple[list[Actor], list[TechInput]]:
    """A technician record per technician user (committed: the phones need them)."""
    existing = {
        str(t.user_id): t
        for t in await directory.list_technicians(conn, after=None, limit=200)
    }
    technicians: list[Actor] = []
    fleet_input: list[TechInput] = []
    for person in co.TECHNICIANS:
        user = users[person.email]
        tech = existing.get(str(user.id))
        if tech is None:
            tech = await directory.create_technician(
                conn,
                {
                    "user_id": str(user.id),
                    "name": person.name,
                    "phone": person.phone,
                    "hourly_cost": 38,
                    "team": person.team,
                },
            )
            report.count("technicians")
        technicians.append(
            Actor(
                str(user.id),
                Role.TECHNICIAN,
                person.name,
                technician_id=str(tech.id),
                source=f"{SOURCE} ({person.device_id})",
            )
        )
        fleet_input.append((person, user, str(tech.id), tech.device_ids))
    return technicians, fleet_input


async def _ensure_clients(
    conn: AConn, report: SeedReport
) -> tuple[list[str], list[str]]:
    clients: list[str] = []
    sites: list[str] = []
    for spec in co.CLIENTS:
        same = [
            c
            for c in await directory.list_clients(
                conn, q=spec.name, after=None, limit=50
            )
            if c.name == spec.name
        ]
        if same:
            client_id = str(same[0].id)
        else:
            made = await directory.create_client(
                conn,
                {
                    "name": spec.name,
                    "email": spec.email,
                    "phone": spec.phone,
                    "notes": spec.notes,
                },
            )
            client_id = str(made.id)
            report.count("clients")
        clients.append(client_id)
        props = {
            p.address.get("line1"): str(p.id)
            for p in await directory.list_properties(
                conn, client_id=client_id, after=None, limit=50
            )
        }
        for site in spec.sites:
            if site.line1 not in props:
                prop = await directory.create_property(
                    conn,
                    {
                        "client_id": client_id,
                        "address": site.address,
                        "location": {"lat": site.lat, "lon": site.lon},
                        "geofence": site.geofence,
                    },
                )
                props[site.line1] = str(prop.id)
                report.count("properties")
            sites.append(props[site.line1])
    return clients, sites


async def _ensure_price_book(conn: AConn, report: SeedReport) -> dict[str, str]:
    families = {f["name"]: str(f["id"]) for f in await price_book.list_families(conn)}
    for name in co.FAMILIES:
        if name not in families:
            families[name] = str((await price_book.create_family(conn, name))["id"])
            report.count("price_book_families")
    items: dict[str, str] = {}
    for spec in co.ITEMS:
        found = [
            i
            for i in await price_book.search_items(
                conn, q=spec.code, family_id=None, kind=None, after=None, limit=50
            )
            if i["code"] == spec.code
        ]
        if found:
            items[spec.code] = str(found[0]["id"])
            continue
        made = await price_book.create_item(
            conn,
            {
                "family_id": families[spec.family],
                "kind": spec.kind,
                "code": spec.code,
                "name": spec.name,
                "unit_price": spec.unit_price,
                "tax_rate": spec.tax_rate,
            },
        )
        items[spec.code] = str(made["id"])
        if spec.serialized or spec.bill_from_sessions:
            await parts.set_stock_settings(
                conn,
                items[spec.code],
                serialized=spec.serialized or None,
                bill_from_sessions=spec.bill_from_sessions or None,
            )
        report.count("price_book_items")
    return items


def _serials(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:04d}" for n in range(1, count + 1)]


async def _ensure_depots(
    conn: AConn,
    office: Actor,
    technicians: list[Actor],
    items: dict[str, str],
    report: SeedReport,
) -> list[str]:
    """Two warehouses and a van per technician, each stocked once when made."""
    depots = {d.name: d for d in await parts.list_depots(conn)}

    async def depot(name: str, kind: DepotKind, tech: str | None, tag: str) -> str:
        if name in depots:
            return depots[name].id
        made = await parts.create_depot(conn, name, kind, tech)
        report.count("depots")
        count = 12 if kind is DepotKind.STATIONARY else 4
        for code in co.SERIALIZED_PARTS:
            await parts.receive_stock(
                conn,
                office,
                made,
                items[code],
                serials=_serials(f"{code.split('-')[0]}-{tag}", count),
                quantity=None,
            )
            report.created["serial_units"] = (
                report.created.get("serial_units", 0) + count
            )
        for code in co.PLAIN_PARTS:
            await parts.receive_stock(
                conn, office, made, items[code], serials=None, quantity=co.VAN_PARTS
            )
        return made.id

    for name, tag in co.WAREHOUSES:
        await depot(name, DepotKind.STATIONARY, None, tag)
    vans: list[str] = []
    for person, actor in zip(co.TECHNICIANS, technicians, strict=True):
        tag = person.device_id.removeprefix("demo-").upper()
        vans.append(
            await depot(
                f"Van {person.name}", DepotKind.MOBILE, actor.technician_id, tag
            )
        )
    return vans


# -- the schedule -------------------------------------------------------------------------


async def demo_jobs(conn: AConn, office: Actor, around: datetime) -> dict[str, Job]:
    """The demo's jobs with a window within a day and a half of ``around``, by key."""
    found = await jobs_service.search_jobs(
        conn,
        office,
        statuses=[],
        technician_id=None,
        client_id=None,
        date_from=around - timedelta(hours=36),
        date_to=around + timedelta(hours=36),
        after_number=None,
        limit=2000,
    )
    return {
        str(j.custom_fields[co.DEMO_MARK]): j
        for j in found
        if isinstance(j.custom_fields.get(co.DEMO_MARK), str)
    }


async def _ensure_day(
    conn: AConn,
    company: Company,
    day_key: str,
    anchor: datetime,
    now: datetime,
    history: bool,
    report: SeedReport,
) -> None:
    """Plan ``day_key`` around ``anchor`` unless a run already did (one transaction)."""
    known = await demo_jobs(conn, company.office, anchor)
    if any(key.startswith(day_key + "/") for key in known):
        return
    anchor = anchor.replace(second=0, microsecond=0) - timedelta(
        minutes=anchor.minute % 5
    )
    async with conn.transaction():
        for plan in co.plan_day(day_key, history=history):
            await _create_planned(conn, company, plan, anchor, now, report)
    report.days_planned.append(day_key)


async def _create_planned(
    conn: AConn,
    company: Company,
    plan: co.Plan,
    anchor: datetime,
    now: datetime,
    report: SeedReport,
) -> None:
    client_index, _site = co.ALL_SITES[plan.site]
    description, item_code = co.WORK[plan.template]
    start = anchor + timedelta(minutes=plan.start_min)
    end = start + timedelta(minutes=co.WINDOW_MIN)
    office = company.office
    job = await jobs_service.create_job(
        conn,
        office,
        jobs_service.NewJob(
            client_id=company.clients[client_index],
            description=description,
            property_id=company.sites[plan.site],
            line_items=[{"price_book_item_id": company.items[item_code]}],
            custom_fields={co.DEMO_MARK: plan.key},
            window=(start, end),
        ),
        technicians_may_create=False,
    )
    await reports.assign_template(conn, job, company.templates[plan.template])
    report.count("jobs")
    if plan.technician is None:
        return
    tech = company.technicians[plan.technician]
    await jobs_service.schedule(
        conn,
        office,
        job.id,
        start=start,
        end=end,
        technician_id=tech.technician_id,
        check=_no_check,
    )
    if plan.state == "completed":
        await live_as_history(
            conn, company, job.id, plan.technician, start, plan.reserve
        )
        report.lived_as_history += 1
    elif plan.state == "on_hold":
        # the customer is not home: the technician pauses the session and leaves
        arrived = start + timedelta(minutes=8)
        await _clock(conn, company, job.id, plan.technician, "in", arrived)
        await _clock(
            conn, company, job.id, plan.technician, "pause", arrived + HOLD_STAY
        )
        await jobs_service.hold(
            conn,
            tech,
            job.id,
            "Customer not home: access arranged for tomorrow",
            check=_no_check,
        )
    elif plan.state == "in_progress":
        await _clock(
            conn, company, job.id, plan.technician, "in", now - timedelta(minutes=15)
        )


async def _clock(
    conn: AConn, company: Company, job_id: str, tech_index: int, kind: str, at: datetime
) -> None:
    """Clock the technician in or out with their phone, as the app would."""
    tech = company.technicians[tech_index]
    job = await jobs_service.load_visible(conn, tech, job_id, for_update=True)
    lat, lon = _site_position(company, job.property_id)
    await clock_from_app(
        conn,
        tech,
        job,
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crewtrack-demo:{job_id}:{kind}")),
        kind=CLOCK_KINDS[kind],
        technician_id=None,
        recorded=Recorded(at=at),
        device_id=company.devices[tech_index],
        position=Position(lat, lon, 8.0),
    )


CLOCK_KINDS = {
    "in": SessionKind.CLOCK_IN,
    "pause": SessionKind.PAUSE,
    "out": SessionKind.CLOCK_OUT,
}


def _site_position(company: Company, property_id: str | None) -> tuple[float, float]:
    index = company.sites.index(str(property_id))
    _, site = co.ALL_SITES[index]
    return site.lat, site.lon


async def live_as_history(
    conn: AConn,
    company: Company,
    job_id: str,
    tech_index: int,
    start: datetime,
    reserve: bool,
) -> None:
    """The technician did the job in its window: clock in, report, a part, done."""
    tech = company.technicians[tech_index]
    arrived = start + timedelta(minutes=6)
    left = arrived + HISTORY_DWELL
    await _clock(conn, company, job_id, tech_index, "in", arrived)
    job = await jobs_service.load_visible(conn, tech, job_id, for_update=True)
    template = _template_of(company, job)
    actor = reports.report_actor(tech, job)
    await reports.update_fields(
        conn,
        job,
        actor,
        {k: {"value": v} for k, v in co.ANSWERS[template].items()},
        recorded=Recorded(at=arrived + timedelta(minutes=20)),
    )
    if reserve:
        key, comment = co.RESERVE
        await reports.raise_reserve(
            conn,
            job,
            actor,
            key,
            comment,
            [],
            recorded=Recorded(
                at=arrived + timedelta(minutes=25),
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crewtrack-demo:{job_id}:rsv")),
            ),
        )
    code = co.PLAIN_PARTS[uuid.UUID(job_id).int % len(co.PLAIN_PARTS)]
    await parts.add_part(
        conn,
        tech,
        job,
        company.items[code],
        {"quantity": 1},
        recorded=Recorded(
            at=arrived + timedelta(minutes=28),
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crewtrack-demo:{job_id}:part")),
        ),
    )
    await _clock(conn, company, job_id, tech_index, "out", left)
    await completion.complete(
        conn, tech, job_id, check=_no_check, at=left + timedelta(minutes=1)
    )


def _template_of(company: Company, job: Job) -> str:
    """The template a demo job was planned with (its description says which)."""
    for name in co.TEMPLATE_NAMES:
        if co.WORK[name][0] == job.description:
            return name
    raise ValueError(f"not a demo job: {job.custom_fields.get(co.DEMO_MARK)}")


async def _catch_up(
    conn: AConn, company: Company, now: datetime, report: SeedReport
) -> None:
    """Scheduled demo jobs whose window ended a while ago: lived as history."""
    by_tech = {a.technician_id: i for i, a in enumerate(company.technicians)}
    for job in (await demo_jobs(conn, company.office, now)).values():
        if (
            job.status is not JobStatus.SCHEDULED
            or job.scheduled_end is None
            or job.scheduled_start is None
            or job.scheduled_end > now - CATCH_UP_AFTER
            or job.job_manager not in by_tech
        ):
            continue
        async with conn.transaction():
            await live_as_history(
                conn,
                company,
                job.id,
                by_tech[job.job_manager],
                job.scheduled_start,
                False,
            )
        report.lived_as_history += 1


def summary(report: SeedReport) -> Iterable[str]:
    """The lines the CLI prints."""
    made = ", ".join(f"{n} {kind}" for kind, n in sorted(report.created.items()))
    yield f"demo company {co.COMPANY}: " + (made or "nothing new")
    if report.days_planned:
        yield "planned: " + ", ".join(report.days_planned)
    if report.new_logins:
        yield "new logins (shown this once; kept owner-only in demo-logins.json):"
        for login in report.new_logins:
            yield f"  {login['role']:<10} {login['email']} / {login['password']}"
