"""Job report use cases: templates, answers, reserves, attachments, signatures, closing.

Each change loads the job's report locked, applies one rule of
:class:`jobs_domain.report.Report`, stores the images it references and saves the
report. Raising a reserve writes its alert to the ``report_alerts`` outbox in the
same transaction and sends ``NOTIFY`` :data:`ALERT_CHANNEL`, so the alert relay
(``api.alert_relay``) delivers it once the transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.errors import Blocker, Conflict, FieldProblem, InvalidInput, NotFound
from jobs_domain.images import MAX_IMAGE_BYTES, Image, ImageRef, decode_image
from jobs_domain.job import Job, JobStatus
from jobs_domain.report import (
    Attachment,
    Report,
    ReportActor,
    ReportStatus,
    Reserve,
    Signature,
    new_report,
)
from jobs_domain.report_template import ReportTemplate, parse_template
from services import versions
from services.clock import Recorded, now
from storage import jobs as job_store
from storage import reports as store

Conn = psycopg.AsyncConnection[Any]
T = TypeVar("T")

ALERT_CHANNEL = "crewtrack_alerts"  # NOTIFY channel: an alert row was committed
JOB_CLOSED = (JobStatus.COMPLETED, JobStatus.CANCELLED)


def report_actor(actor: Actor, job: Job) -> ReportActor:
    """The actor's standing on this job: crew position, or back office."""
    role = job.crew_role_of(actor.technician_id) if actor.is_technician else None
    return ReportActor(
        user_id=actor.user_id, crew_position=role, office=actor.is_office, who=actor
    )


def is_locked(report: Report, job: Job) -> bool:
    """A completed report, or any report of an ended job, no longer changes."""
    return report.status is ReportStatus.COMPLETED or job.status in JOB_CLOSED


# -- templates --------------------------------------------------------------------------


async def create_template(conn: Conn, body: object) -> ReportTemplate:
    template = parse_template(str(uuid.uuid4()), body)
    await store.insert_template(conn, template)
    return template


async def get_template(conn: Conn, template_id: str) -> ReportTemplate:
    template = await store.get_template(conn, template_id)
    if template is None:
        raise NotFound("report template not found")
    return template


async def list_templates(conn: Conn) -> list[ReportTemplate]:
    return await store.list_templates(conn)


async def template_version(conn: Conn, template_id: str) -> int:
    """The version an editor reads with the template (what its ``check`` compares)."""
    version = await store.template_version(conn, template_id)
    if version is None:
        raise NotFound("report template not found")
    return version


async def update_template(
    conn: Conn, template_id: str, body: object, *, check: versions.Check
) -> tuple[ReportTemplate, int]:
    """Replace a template's name, families, fields and signatures (the same body
    as creating one) and give its new version.

    A job's report was started from a copy of its template
    (:func:`assign_template`), so reports already begun keep the fields they were
    given; the change applies to the reports started from now on."""
    version = await store.template_version(conn, template_id, for_update=True)
    if version is None:
        raise NotFound("report template not found")
    check(versions.Stamp(template_id, version))
    template = parse_template(template_id, body)
    return template, await store.update_template(conn, template)


# -- the report ------------------------------------------------------------------------


async def assign_template(conn: Conn, job: Job, template_id: str) -> Report:
    """Start the job's report from a snapshot of the template (once per job)."""
    if job.status in JOB_CLOSED:
        raise Conflict(f"job {job.display_number} is {job.status.value}")
    if await store.load_report(conn, job.id) is not None:
        raise Conflict(f"job {job.display_number} already has a report")
    template = await get_template(conn, template_id)
    report = new_report(job.id, job.client_id, job.property_id, template)
    await store.insert_report(conn, report, template.id, now())
    return report


async def load_report(conn: Conn, job: Job, *, for_update: bool = False) -> Report:
    """The job's report (404 without one); an ended job's report reads as completed."""
    report = await store.load_report(conn, job.id, for_update=for_update)
    if report is None:
        raise NotFound(f"job {job.display_number} has no report (assign a template)")
    if job.status in JOB_CLOSED and report.status is ReportStatus.OPEN and for_update:
        # Ending the job validated the report: from now on it is read-only.
        report.status = ReportStatus.COMPLETED
        report.completed_by = job.completed_by
        report.completed_at = job.completed_at or now()
    return report


Check = Callable[[Report], None]
ABSENT: Any = object()  # an argument the caller did not send at all (not null)


def _no_check(_report: Report) -> None:
    return None


def _keep(images: list[Image], value: object, pointer: str, max_bytes: int) -> ImageRef:
    """Decode an uploaded image, keep it for storing with the report, give its ref."""
    image = decode_image(value, pointer, max_bytes=max_bytes)
    images.append(image)
    return image.ref


async def _change(
    conn: Conn,
    job: Job,
    change: Callable[[Report, list[Image]], T],
    *,
    images: Sequence[Image] = (),
    check: Check = _no_check,
) -> tuple[Report, T]:
    """Lock the report, ``check`` it, apply ``change``, store its images, save.

    ``change`` may decode uploads with :func:`_keep`; they are stored with the
    report (``images`` are ones the caller decoded before).
    """
    report = await load_report(conn, job, for_update=True)
    check(report)
    kept = list(images)
    result = change(report, kept)
    for image in kept:
        await store.put_image(conn, image)
    await _save(conn, report)
    return report, result


async def _save(conn: Conn, report: Report) -> None:
    events = report.pull_events()
    await store.save_report(conn, report, now())
    if events:
        await store.insert_alerts(conn, events)
        await announce_alerts(conn)


async def announce_alerts(conn: Conn) -> None:
    """Wake the alert relay once this transaction commits (its new outbox rows)."""
    await conn.execute("SELECT pg_notify(%s, '')", (ALERT_CHANNEL,))


async def update_fields(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    fields: Mapping[str, object],
    *,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    check: Check = _no_check,
    recorded: Recorded | None = None,
) -> Report:
    """Record answers and comments; ``check`` runs on the locked report first.

    Per field, the latest recorded change wins; a field changed after this
    write was recorded keeps its value, and the job history says so.
    """
    when = recorded or Recorded()
    report, superseded = await _change(
        conn,
        job,
        lambda r, _: r.update_fields(
            fields, actor, when.at, max_image_bytes=max_image_bytes
        ),
        check=check,
    )
    for key in superseded:
        entry = report.entries[key]
        await _tell_superseded(
            conn,
            job,
            actor,
            when,
            "report_field",
            field=key,
            kept_since=entry.updated_at,
        )
    return report


async def _tell_superseded(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    when: Recorded,
    what: str,
    **details: object,
) -> None:
    if actor.who is None:
        return
    job.record_superseded(
        actor.who, when.at, what, received_at=when.received_at, **details
    )
    await job_store.append_history(conn, job.id, job.new_history)
    job.new_history = []


async def raise_reserve(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    field_key: str,
    comment: str,
    photos: Sequence[object],
    *,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    recorded: Recorded | None = None,
) -> tuple[Report, Reserve]:
    """Raise a reserve on a field; the back office is alerted after the commit.

    Under the client's id, sending it again answers the same reserve."""
    when = recorded or Recorded()
    images = [
        decode_image(p, f"/photos/{i}", max_bytes=max_image_bytes)
        for i, p in enumerate(photos)
    ]
    return await _change(
        conn,
        job,
        lambda r, _: r.raise_reserve(
            when.new_id(),
            field_key,
            comment,
            [img.ref for img in images],
            actor,
            when.at,
        ),
        images=images,
    )


async def set_reserve_status(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    reserve_id: str,
    status: object,
    comment: str | None,
) -> Reserve:
    """The back office follows a reserve up (also on a completed report)."""
    _, reserve = await _change(
        conn,
        job,
        lambda r, _: r.set_reserve_status(reserve_id, status, comment, actor, now()),
    )
    return reserve


async def list_reserves(
    conn: Conn,
    *,
    client_id: str | None = None,
    site_id: str | None = None,
    status: str | None = None,
) -> list[store.StoredReserve]:
    return await store.list_reserves(
        conn, client_id=client_id, site_id=site_id, status=status
    )


async def add_attachment(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    kind: str,
    *,
    image: object = ABSENT,
    barcode: object = None,
    description: str | None = None,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    recorded: Recorded | None = None,
) -> Attachment:
    """Attach a photo (with its image) or a barcode reading to the report."""
    when = recorded or Recorded()
    attachment_id = when.new_id()

    def attach(report: Report, images: list[Image]) -> Attachment:
        if kind != "photo":
            return report.add_barcode(
                attachment_id, barcode, description, actor, when.at
            )
        if image is ABSENT:
            raise InvalidInput(
                "a photo needs its image", [FieldProblem("/image", "required")]
            )
        ref = _keep(images, image, "/image", max_image_bytes)
        return report.add_photo(attachment_id, ref, description, actor, when.at)

    _, attachment = await _change(conn, job, attach)
    return attachment


async def delete_attachment(
    conn: Conn, job: Job, actor: ReportActor, attachment_id: str
) -> None:
    await _change(conn, job, lambda r, _: r.delete_attachment(attachment_id, actor))


async def sign(
    conn: Conn,
    job: Job,
    actor: ReportActor,
    role: str,
    signer_name: str,
    image: object,
    *,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    recorded: Recorded | None = None,
) -> Signature:
    """Sign (or sign again); a signature recorded before the current one, synced
    late, leaves the current one and is told in the job history."""
    when = recorded or Recorded()
    _, signature = await _change(
        conn,
        job,
        lambda r, images: r.sign(
            role,
            signer_name,
            _keep(images, image, "/image", max_image_bytes),
            actor,
            when.at,
        ),
    )
    if signature.signed_at > when.at:
        await _tell_superseded(
            conn,
            job,
            actor,
            when,
            "signature",
            role=role,
            kept_since=signature.signed_at,
        )
    return signature


async def clear_signature(conn: Conn, job: Job, actor: ReportActor, role: str) -> None:
    await _change(conn, job, lambda r, _: r.clear_signature(role, actor))


async def validate_signature(
    conn: Conn, job: Job, actor: ReportActor, role: str
) -> Signature:
    """Lock a signature for good (only the job's Job Manager)."""
    _, signature = await _change(
        conn, job, lambda r, _: r.validate_signature(role, actor, now())
    )
    return signature


async def complete_report(conn: Conn, job: Job, actor: ReportActor) -> Report:
    """Close the report: refused while a mandatory field or signature is missing."""
    report, _ = await _change(conn, job, lambda r, _: r.complete(actor, now()))
    return report


async def report_blockers(conn: Conn, job: Job) -> list[Blocker]:
    """What the job's report still lacks (each mandatory field by name, signatures)."""
    report = await store.load_report(conn, job.id)
    if report is None or report.status is ReportStatus.COMPLETED:
        return []
    return report.blockers()


async def get_image(conn: Conn, sha256: str) -> Image:
    image = await store.get_image(conn, sha256) if len(sha256) == 64 else None
    if image is None:
        raise NotFound("image not found")
    return image
