from __future__ import annotations

from dataclasses import dataclass

import pytest

from jobs_domain.errors import Conflict
from jobs_domain.replay import replay_of


@dataclass(frozen=True)
class Rec:
    id: str
    text: str


STORED = [Rec("a", "first"), Rec("b", "second")]


def test_the_same_id_with_the_same_content_is_a_replay_of_the_stored_record() -> None:
    new = Rec("b", "second")
    assert replay_of(STORED, new.id, new.__eq__) is STORED[1]


def test_a_new_id_is_not_a_replay() -> None:
    new = Rec("c", "second")
    assert replay_of(STORED, new.id, new.__eq__) is None


def test_the_same_id_for_other_content_is_a_conflict_naming_the_kind() -> None:
    new = Rec("a", "changed")
    with pytest.raises(Conflict, match="id a is already used for another note"):
        replay_of(STORED, new.id, new.__eq__, "note")
