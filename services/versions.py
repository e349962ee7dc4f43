"""What an edit compares before it changes a record: the version its editor read.

The API's If-Match and the dashboard's "the page showed version n" are the same
check, given to a use case as ``check`` and run on the locked record's
:class:`Stamp`; it raises (the API: 412, the dashboard: "changed since you opened
it") when the record moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stamp:
    """Which record, at which version: what an editor's ``check`` compares."""

    id: str
    version: int


#: Raises (stale) unless the locked record is the version its editor read.
Check = Callable[[Stamp], None]
