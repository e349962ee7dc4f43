"""One paging model for every office list (jobs, clients, invoices, and any
list added later): where each page seen starts, a page's size, and what the
pager says.

A cursor is whatever the list's query continues after: a job number, a client
id, or an offset for a list paged by offset. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Self, TypeVar

PAGE_SIZE = 25  # a screenful at desktop height; more is a click on "Next"

C = TypeVar("C", str, int)
T = TypeVar("T")


@dataclass(frozen=True)
class Paging(Generic[C]):
    """Keyset (or offset) paging: the cursors of the pages seen so far, the
    first page's being None. Kept in a ``dcc.Store`` as ``data()``."""

    cursors: tuple[C | None, ...] = (None,)

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Self:
        """The paging a store holds (nothing yet: the first page)."""
        return cls(tuple((data or {}).get("cursors") or [None]))

    @property
    def current(self) -> C | None:
        return self.cursors[-1]

    @property
    def page(self) -> int:
        return len(self.cursors)

    @property
    def limit(self) -> int:
        """Rows to read: one more than shown says whether there is a next page."""
        return PAGE_SIZE + 1

    def next(self, last: C) -> Self:
        return replace(self, cursors=(*self.cursors, last))  # type: ignore[arg-type]  # mypy: * of a constrained TypeVar

    def previous(self) -> Self:
        return replace(self, cursors=self.cursors[:-1] or (None,))

    def data(self) -> dict[str, Any]:
        return {"cursors": list(self.cursors)}

    def cut(self, found: Sequence[T]) -> tuple[list[T], bool]:
        """The rows shown of ``found`` (read with ``limit``), and whether more follow."""
        return list(found[:PAGE_SIZE]), len(found) > PAGE_SIZE

    def pager(self, more: bool) -> tuple[str, bool, bool]:
        """The pager's text, whether Previous and Next are disabled."""
        return f"Page {self.page}", self.page == 1, not more


class OffsetPaging(Paging[int]):
    """Paging for a list read by offset: each page's cursor is its first row."""

    @property
    def offset(self) -> int:
        return self.current or 0

    def forward(self) -> OffsetPaging:
        return self.next(self.offset + PAGE_SIZE)


def first_page() -> dict[str, Any]:
    """A store's data for the first page (a new filter starts there)."""
    return Paging[int]().data()
