"""Estimates: priced proposals that, once approved, convert to a job exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from jobs_domain.actors import OFFICE, Actor, require_role
from jobs_domain.errors import Blocker, TransitionRefused
from jobs_domain.job import Job, LineItem, Note, SiteContact


class EstimateStatus(StrEnum):
    """Draft until the customer approves it; converted once it became a job."""

    DRAFT = "draft"
    APPROVED = "approved"
    CONVERTED = "converted"


@dataclass
class Estimate:
    """A proposal: line items, prices and notes for a client's property."""

    id: str
    number: int
    client_id: str
    description: str
    created_at: datetime
    property_id: str | None = None
    site_contact: SiteContact = field(default_factory=SiteContact)
    line_items: list[LineItem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    status: EstimateStatus = EstimateStatus.DRAFT
    approved_at: datetime | None = None
    approved_by: str | None = None
    job_id: str | None = None
    version: int = 0

    @property
    def display_number(self) -> str:
        """``E-000007``: what the office and the customer call it."""
        return f"E-{self.number:06d}"

    def approve(self, actor: Actor, now: datetime) -> None:
        """Draft → Approved (the customer said yes)."""
        require_role(actor, *OFFICE)
        if self.status is not EstimateStatus.DRAFT:
            raise TransitionRefused(
                f"the estimate is already {self.status.value}",
                [Blocker("wrong-status", f"estimate is {self.status.value}", self.id)],
            )
        self.status = EstimateStatus.APPROVED
        self.approved_at = now
        self.approved_by = actor.user_id

    def convert(
        self,
        actor: Actor,
        now: datetime,
        *,
        job_id: str,
        job_number: int,
        new_ids: Sequence[str],
    ) -> Job:
        """Approved → Converted: a Pending job with every line item, price and note.

        ``new_ids`` gives fresh ids for the copied line items, then the notes.
        """
        require_role(actor, *OFFICE)
        if self.status is EstimateStatus.CONVERTED:
            raise TransitionRefused(
                "the estimate was already converted",
                [
                    Blocker(
                        "already-converted", "an estimate converts once", self.job_id
                    )
                ],
            )
        if self.status is not EstimateStatus.APPROVED:
            raise TransitionRefused(
                "only an approved estimate converts to a job",
                [Blocker("not-approved", "approve the estimate first", self.id)],
            )
        ids = iter(new_ids)
        job = Job.create(
            actor=actor,
            now=now,
            job_id=job_id,
            number=job_number,
            client_id=self.client_id,
            description=self.description,
            property_id=self.property_id,
            site_contact=self.site_contact,
            line_items=[replace(i, id=next(ids)) for i in self.line_items],
            notes=[replace(n, id=next(ids)) for n in self.notes],
            estimate_id=self.id,
            origin=f"estimate {self.display_number}",
        )
        self.status = EstimateStatus.CONVERTED
        self.job_id = job_id
        return job


def parse_estimate_number(text: str) -> int | None:
    """``E-000007`` (or ``7``) → ``7``; anything else (or too big) → ``None``."""
    digits = text[2:] if text.upper().startswith("E-") else text
    number = int(digits) if digits.isdigit() else None
    return number if number is not None and number < 2**63 else None
