"""Report templates, job reports, reserves, report images and reserve alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import Conflict
from jobs_domain.images import Image, ImageRef
from jobs_domain.report import (
    Attachment,
    AttachmentKind,
    FieldEntry,
    Report,
    ReportStatus,
    Reserve,
    ReserveChange,
    ReserveRaised,
    ReserveStatus,
    Signature,
)
from jobs_domain.report_template import (
    ReportTemplate,
    SignatureRole,
    template_from_json,
)
from storage.documents import to_document

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class StoredReserve:
    """A reserve with the job, client and site it was raised for."""

    reserve: Reserve
    job_id: str
    client_id: str
    site_id: str | None


# -- (de)serialisation ----------------------------------------------------------------


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _image(data: dict[str, Any]) -> ImageRef:
    return ImageRef(data["sha256"], data["content_type"], int(data["size"]))


def _reserve(row: dict[str, Any]) -> Reserve:
    return Reserve(
        id=str(row["id"]),
        field_key=row["field_key"],
        comment=row["comment"],
        photos=tuple(_image(p) for p in row["photos"]),
        status=ReserveStatus(row["status"]),
        raised_by=row["raised_by"],
        raised_at=row["raised_at"],
        history=tuple(
            ReserveChange(
                ReserveStatus(c["status"]), c["comment"], c["by"], _at(c["at"])
            )
            for c in row["history"]
        ),
    )


# -- templates ---------------------------------------------------------------------------


async def insert_template(conn: Conn, template: ReportTemplate) -> None:
    await conn.execute(
        "INSERT INTO report_templates (id, name, body) VALUES (%s, %s, %s)",
        (template.id, template.name, Jsonb(template.to_json())),
    )


async def get_template(conn: Conn, template_id: str) -> ReportTemplate | None:
    cur = await conn.execute(
        "SELECT body FROM report_templates WHERE id = %s", (template_id,)
    )
    row = await cur.fetchone()
    return template_from_json(row[0]) if row else None


async def template_version(
    conn: Conn, template_id: str, *, for_update: bool = False
) -> int | None:
    """The template's version (bumped by each edit); None when there is none."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT version FROM report_templates WHERE id = %s{lock}", (template_id,)
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def update_template(conn: Conn, template: ReportTemplate) -> int:
    """Replace the template's body, one version further (reports keep their copy)."""
    cur = await conn.execute(
        "UPDATE report_templates SET name = %s, body = %s, version = version + 1 "
        "WHERE id = %s RETURNING version",
        (template.name, Jsonb(template.to_json()), template.id),
    )
    row = await cur.fetchone()
    assert row is not None  # locked by template_version(for_update=True)
    return int(row[0])


async def list_templates(conn: Conn) -> list[ReportTemplate]:
    cur = await conn.execute("SELECT body FROM report_templates ORDER BY name, id")
    return [template_from_json(row[0]) for row in await cur.fetchall()]


# -- reports -------------------------------------------------------------------------------


async def load_report(
    conn: Conn, job_id: str, *, for_update: bool = False
) -> Report | None:
    """The job's report with its reserves (``for_update`` locks the report row)."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        "SELECT template, client_id, site_id, entries, signatures, attachments, "
        "status, completed_by, completed_at, version FROM job_reports "
        f"WHERE job_id = %s{lock}",
        (job_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    template, client_id, site_id, entries, signatures, attachments = row[:6]
    report = Report(
        job_id=job_id,
        client_id=str(client_id),
        site_id=str(site_id) if site_id else None,
        template=template_from_json(template),
        entries={
            key: FieldEntry(
                e["value"], e["comment"], e["updated_by"], _dt(e["updated_at"])
            )
            for key, e in entries.items()
        },
        signatures={
            SignatureRole(role): Signature(
                SignatureRole(role),
                s["signer_name"],
                _image(s["image"]),
                _at(s["signed_at"]),
                s["signed_by"],
                _dt(s["validated_at"]),
            )
            for role, s in signatures.items()
        },
        attachments=[
            Attachment(
                a["id"],
                AttachmentKind(a["kind"]),
                a["description"],
                a["barcode"],
                _image(a["image"]) if a["image"] else None,
                a["added_by"],
                _at(a["added_at"]),
            )
            for a in attachments
        ],
        status=ReportStatus(row[6]),
        completed_by=row[7],
        completed_at=row[8],
        version=row[9],
    )
    cur = await conn.execute(
        "SELECT id, field_key, comment, photos, status, raised_by, raised_at, history "
        "FROM report_reserves WHERE job_id = %s ORDER BY raised_at, id",
        (job_id,),
    )
    names = [d.name for d in cur.description or []]
    report.reserves = [
        _reserve(dict(zip(names, r, strict=True))) for r in await cur.fetchall()
    ]
    return report


async def insert_report(
    conn: Conn, report: Report, template_id: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO job_reports (job_id, template_id, template, client_id, site_id, "
        "status, updated_at) VALUES (%s, %s, %s, %s, %s, 'open', %s)",
        (
            report.job_id,
            template_id,
            Jsonb(report.template.to_json()),
            report.client_id,
            report.site_id,
            now,
        ),
    )


async def save_report(conn: Conn, report: Report, now: datetime) -> None:
    """Write the report back (optimistic on ``version``) and upsert its reserves."""
    cur = await conn.execute(
        "UPDATE job_reports SET entries = %s, signatures = %s, attachments = %s, "
        "status = %s, completed_by = %s, completed_at = %s, version = version + 1, "
        "updated_at = %s WHERE job_id = %s AND version = %s",
        (
            Jsonb({k: to_document(e) for k, e in report.entries.items()}),
            Jsonb({r.value: to_document(s) for r, s in report.signatures.items()}),
            Jsonb(to_document(report.attachments)),
            report.status.value,
            report.completed_by,
            report.completed_at,
            now,
            report.job_id,
            report.version,
        ),
    )
    if cur.rowcount != 1:
        raise Conflict("the report changed meanwhile; fetch it again")
    report.version += 1
    for res in report.reserves:
        await conn.execute(
            "INSERT INTO report_reserves (id, job_id, client_id, site_id, field_key, "
            "comment, photos, status, raised_by, raised_at, history) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, "
            "history = EXCLUDED.history",
            (
                res.id,
                report.job_id,
                report.client_id,
                report.site_id,
                res.field_key,
                res.comment,
                Jsonb(to_document(res.photos)),
                res.status.value,
                res.raised_by,
                res.raised_at,
                Jsonb(to_document(res.history)),
            ),
        )


async def list_reserves(
    conn: Conn,
    *,
    client_id: str | None = None,
    site_id: str | None = None,
    status: str | None = None,
    job_id: str | None = None,
    limit: int = 200,
) -> list[StoredReserve]:
    """Reserves, newest first, filtered by client, site, status or job."""
    where, params = ["true"], []
    for column, value in (
        ("client_id", client_id),
        ("site_id", site_id),
        ("status", status),
        ("job_id", job_id),
    ):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    cur = await conn.execute(
        "SELECT id, job_id, client_id, site_id, field_key, comment, photos, status, "
        "raised_by, raised_at, history FROM report_reserves "
        f"WHERE {' AND '.join(where)} ORDER BY raised_at DESC, id LIMIT %s",
        (*params, limit),
    )
    names = [d.name for d in cur.description or []]
    out = []
    for row in await cur.fetchall():
        data = dict(zip(names, row, strict=True))
        out.append(
            StoredReserve(
                _reserve(data),
                job_id=str(data["job_id"]),
                client_id=str(data["client_id"]),
                site_id=str(data["site_id"]) if data["site_id"] else None,
            )
        )
    return out


# -- images --------------------------------------------------------------------------------


async def put_image(conn: Conn, image: Image) -> ImageRef:
    ref = image.ref
    await conn.execute(
        "INSERT INTO report_images (sha256, content_type, data) VALUES (%s, %s, %s) "
        "ON CONFLICT (sha256) DO NOTHING",
        (ref.sha256, ref.content_type, image.data),
    )
    return ref


async def get_image(conn: Conn, sha256: str) -> Image | None:
    cur = await conn.execute(
        "SELECT data, content_type FROM report_images WHERE sha256 = %s", (sha256,)
    )
    row = await cur.fetchone()
    return Image(bytes(row[0]), row[1]) if row else None


# -- alerts (outbox) -----------------------------------------------------------------------


async def insert_alerts(conn: Conn, events: list[ReserveRaised]) -> list[int]:
    ids = []
    for event in events:
        cur = await conn.execute(
            "INSERT INTO report_alerts (reserve_id, payload) VALUES (%s, %s) RETURNING id",
            (event.reserve_id, Jsonb(event.to_json())),
        )
        row = await cur.fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


async def insert_event_alert(conn: Conn, key: str, payload: dict[str, Any]) -> bool:
    """An alert of a device event (an alarm) in the outbox, once per ``key``:
    whether it is new (applying the same event again writes nothing)."""
    cur = await conn.execute(
        "INSERT INTO report_alerts (event_key, payload) VALUES (%s, %s) "
        "ON CONFLICT (event_key) DO NOTHING RETURNING id",
        (key, Jsonb(payload)),
    )
    return await cur.fetchone() is not None


async def claim_pending_alerts(
    conn: Conn, ids: list[int] | None = None, limit: int = 50
) -> list[tuple[int, dict[str, Any], str | None, int | None]]:
    """Lock undelivered alerts (others skip them): id, payload, stream id, webhook status."""
    only = "AND id = ANY(%s)" if ids is not None else ""
    params: tuple[Any, ...] = (ids, limit) if ids is not None else (limit,)
    cur = await conn.execute(
        "SELECT id, payload, stream_id, webhook_status FROM report_alerts "
        f"WHERE delivered_at IS NULL {only} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        params,
    )
    return [(int(r[0]), r[1], r[2], r[3]) for r in await cur.fetchall()]


async def record_alert_attempt(
    conn: Conn,
    alert_id: int,
    *,
    stream_id: str | None,
    webhook_status: int | None,
    delivered: bool,
    error: str | None,
) -> None:
    await conn.execute(
        "UPDATE report_alerts SET stream_id = coalesce(%s, stream_id), "
        "webhook_status = coalesce(%s, webhook_status), attempts = attempts + 1, "
        "last_error = %s, delivered_at = CASE WHEN %s THEN now() END WHERE id = %s",
        (stream_id, webhook_status, error, delivered, alert_id),
    )
