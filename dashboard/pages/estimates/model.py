"""The Estimates page's model: rows for the list, what an estimate offers, the
New Estimate form's notes and line items.

Pure: no I/O. The listing is the API's (``services.estimates.search``); this
turns its answer into rows and the form into ``services.estimates.NewEstimate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from jobs_domain.actors import Role
from jobs_domain.estimates import Estimate, EstimateStatus
from jobs_domain.job import LineItem, NoteVisibility
from jobs_domain.money import format_money, totals
from jobs_domain.permissions import Act, allowed
from storage.jobs import line_item_from_json, line_item_to_json

PATH = "/estimates"
STATUS_LABELS: Mapping[EstimateStatus, str] = {
    EstimateStatus.DRAFT: "Draft",
    EstimateStatus.APPROVED: "Approved",
    EstimateStatus.CONVERTED: "Converted",
}


def estimate_href(estimate_id: str) -> str:
    return f"{PATH}?{urlencode({'estimate': estimate_id})}"


def total(items: Sequence[LineItem]) -> str:
    return format_money(totals((i.net, i.tax_rate) for i in items).gross)


def row(estimate: Estimate, client: str) -> dict[str, str]:
    """One row of the list: number (linking the estimate), status, client, total."""
    return {
        "number": estimate.display_number,
        "href": estimate_href(estimate.id),
        "status": estimate.status.value,
        "status_label": STATUS_LABELS[estimate.status],
        "client": client,
        "description": estimate.description,
        "total": total(estimate.line_items),
    }


def offered(estimate: Estimate, role: Role) -> tuple[bool, bool]:
    """Whether the page offers Approve, and Convert to Job, to ``role``."""
    return (
        estimate.status is EstimateStatus.DRAFT and allowed(role, Act.APPROVE_ESTIMATE),
        estimate.status is EstimateStatus.APPROVED
        and allowed(role, Act.CONVERT_ESTIMATE),
    )


def notes_of(
    internal: str | None, public: str | None
) -> list[tuple[NoteVisibility, str]]:
    """The form's two note boxes as the estimate's notes (an empty box: none)."""
    return [
        (visibility, text.strip())
        for visibility, text in (
            (NoteVisibility.INTERNAL, internal or ""),
            (NoteVisibility.PUBLIC, public or ""),
        )
        if text.strip()
    ]


def draft_entry(raw: Mapping[str, Any], priced: LineItem) -> dict[str, Any]:
    """A line item added to the form: the body the API takes, and how the price
    book priced it (to show it before the estimate is saved)."""
    return {"raw": dict(raw), "priced": line_item_to_json(priced)}


def draft_items(draft: Sequence[Mapping[str, Any]] | None) -> list[LineItem]:
    return [line_item_from_json(e["priced"]) for e in draft or ()]


def draft_bodies(draft: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(e["raw"]) for e in draft or ()]
