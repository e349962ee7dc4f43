"""Domain errors: each one says when it happens.

The HTTP layer maps them onto RFC 9457 problem+json responses; nothing here
knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input value, addressed by a JSON pointer (``/line_items/0/qty``)."""

    pointer: str
    message: str


@dataclass(frozen=True)
class Blocker:
    """One item that stops an action, e.g. a required task not checked off."""

    code: str
    message: str
    ref: str | None = None


class DomainError(Exception):
    """Base class: a rule of the job model refused an operation."""

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Raised when a referenced record does not exist (or is not visible to the actor)."""

    code = "not-found"


class Forbidden(DomainError):
    """Raised when the actor's role or crew position does not allow the operation."""

    code = "forbidden"


class InvalidInput(DomainError):
    """Raised when input values break the model's rules; carries field problems."""

    code = "invalid-input"

    def __init__(
        self, message: str, problems: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(message)
        self.problems: list[FieldProblem] = list(problems or [])


class Conflict(DomainError):
    """Raised when the operation clashes with the record's current state."""

    code = "conflict"


class TransitionRefused(Conflict):
    """Raised when a status action is not allowed now; lists what blocks it."""

    code = "transition-refused"

    def __init__(self, message: str, items: list[Blocker] | None = None) -> None:
        super().__init__(message)
        self.items: list[Blocker] = list(items or [])


class CompletionBlocked(TransitionRefused):
    """Raised when a job (or its report) cannot be completed; lists every blocker."""

    code = "completion-blocked"


def invalid(pointer: str, message: str) -> InvalidInput:
    """An ``InvalidInput`` with the one problem ``message`` at ``pointer``."""
    return InvalidInput(message, [FieldProblem(pointer, message)])


def required_text(value: str, pointer: str) -> str:
    """``value`` without surrounding white space; blank (spaces only) is refused."""
    stripped = value.strip()
    if not stripped:
        raise invalid(pointer, "must not be empty")
    return stripped


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: object, pointer: str) -> E:
    """Parse one of an enum's string values, naming the allowed ones on failure.

    Raises ``InvalidInput`` with one problem at ``pointer``.
    """
    for member in enum:
        if value == member.value:
            return member
    raise invalid(pointer, f"must be one of: {', '.join(m.value for m in enum)}")
