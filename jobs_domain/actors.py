"""Who is acting: the authenticated user, their role and, for technicians, their record.

Roles come from the bearer token's user. A technician acts only on jobs whose
crew they belong to; everyone else sees every job. Checks that fail because a
record is not the technician's own raise ``NotFound`` (not ``Forbidden``) so
that ids of other technicians' jobs do not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobs_domain.errors import Forbidden


class Role(StrEnum):
    """The four roles a bearer token can carry."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    BILLING = "billing"
    TECHNICIAN = "technician"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
OFFICE: tuple[Role, ...] = (Role.ADMIN, Role.DISPATCHER)
STAFF_READERS: tuple[Role, ...] = (Role.ADMIN, Role.DISPATCHER, Role.BILLING)
CREW_AND_OFFICE: tuple[Role, ...] = (Role.ADMIN, Role.DISPATCHER, Role.TECHNICIAN)


@dataclass(frozen=True)
class Actor:
    """The user behind a request or a device event.

    ``technician_id`` is set for technicians; ``source`` says where the action
    came from (``api 203.0.113.7``, ``device phone-17``) for the job history.
    """

    user_id: str
    role: Role
    name: str = ""
    technician_id: str | None = None
    source: str = "api"

    @property
    def is_technician(self) -> bool:
        return self.role is Role.TECHNICIAN

    @property
    def is_office(self) -> bool:
        return self.role in OFFICE


def require_role(actor: Actor, *roles: Role) -> None:
    """Raise ``Forbidden`` unless the actor has one of ``roles``."""
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"role {actor.role.value} may not do this (allowed: {allowed})")
