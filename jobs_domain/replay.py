"""One rule for records a phone sends under its own id (offline sync).

The same id with the same content is a replay (answered with what is stored);
the same id for something else is a conflict. Every kind of client-id record
(notes, photos, expenses, reserves, report attachments) goes through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from jobs_domain.errors import Conflict


class HasId(Protocol):
    """A record with a string id."""

    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=HasId)


def replay_of(
    items: Iterable[_T],
    record_id: str,
    same: Callable[[_T], bool],
    what: str = "record",
) -> _T | None:
    """The stored record that ``record_id`` replays, or None when the id is new.

    Raises Conflict when the id is already used for a record that ``same`` says
    is different."""
    for item in items:
        if item.id == record_id:
            if same(item):
                return item
            raise Conflict(f"id {record_id} is already used for another {what}")
    return None
