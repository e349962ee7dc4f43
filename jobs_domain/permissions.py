"""Who may do what to a job: the one role matrix the API and the dashboard read.

The API's routes take their ``roles`` from :data:`MATRIX` (the registry refuses
every other role with 403 and documents the list as ``x-roles``); the dashboard
hides or disables what a role may not do and refuses it server-side with
:func:`require`, so a screen never allows what the API refuses, or the reverse.
The aggregate's own checks (a technician only on their jobs, billing never runs
a job) still apply behind both.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Actor,
    Role,
)
from jobs_domain.errors import Forbidden

#: Who bills: invoices are made, issued, sent, voided and credited by these.
BILLING: tuple[Role, ...] = (Role.ADMIN, Role.BILLING)


class Act(StrEnum):
    """Something a user does to a job, its invoice, or the accounts (one API
    operation each)."""

    CREATE_JOB = "create a job"
    SCHEDULE = "schedule"
    START = "start"
    HOLD = "put on hold"
    RESUME = "resume"
    COMPLETE = "complete"
    CANCEL = "cancel"
    ASSIGN_CREW = "edit the crew"
    ADD_LINE_ITEM = "add a line item"
    ADD_TASK = "add a task"
    TICK_TASK = "tick a task"
    ADD_NOTE = "add a note"
    USE_PART = "add a part used"
    TAKE_BACK = "record a take back"
    SEE_PROFITABILITY = "see profitability"
    READ_INVOICES = "read invoices"
    GENERATE_INVOICE = "generate an invoice"
    ISSUE_INVOICE = "issue an invoice"
    SEND_INVOICE = "send an invoice"
    VOID_INVOICE = "void an invoice"
    CREDIT_INVOICE = "issue a credit note"
    EDIT_DIRECTORY = "edit clients, properties and technicians"
    # -- estimates and bookings (the help page's other two ways to make a job)
    CREATE_ESTIMATE = "create an estimate"
    APPROVE_ESTIMATE = "approve an estimate"
    CONVERT_ESTIMATE = "convert an estimate to a job"
    TAKE_BOOKING = "take a booking"
    MANAGE_USERS = "manage users"
    MANAGE_DEVICES = "register and revoke devices"
    # the price book and report templates (issue 16)
    EDIT_PRICE_BOOK = "edit the price book"
    EDIT_REPORT_TEMPLATES = "edit report templates"
    SET_STOCK_SETTINGS = "mark a part serialized or labour billed from sessions"


MATRIX: Mapping[Act, tuple[Role, ...]] = MappingProxyType(
    {
        Act.CREATE_JOB: CREW_AND_OFFICE,
        Act.SCHEDULE: OFFICE,
        Act.START: CREW_AND_OFFICE,
        Act.HOLD: CREW_AND_OFFICE,
        Act.RESUME: CREW_AND_OFFICE,
        Act.COMPLETE: CREW_AND_OFFICE,
        Act.CANCEL: OFFICE,
        Act.ASSIGN_CREW: OFFICE,
        Act.ADD_LINE_ITEM: ALL_ROLES,
        Act.ADD_TASK: CREW_AND_OFFICE,
        Act.TICK_TASK: CREW_AND_OFFICE,
        Act.ADD_NOTE: ALL_ROLES,
        Act.USE_PART: CREW_AND_OFFICE,
        Act.TAKE_BACK: CREW_AND_OFFICE,
        Act.SEE_PROFITABILITY: STAFF_READERS,
        Act.READ_INVOICES: STAFF_READERS,
        Act.GENERATE_INVOICE: BILLING,
        Act.ISSUE_INVOICE: BILLING,
        Act.SEND_INVOICE: BILLING,
        Act.VOID_INVOICE: BILLING,
        Act.CREDIT_INVOICE: BILLING,
        Act.EDIT_DIRECTORY: OFFICE,
        # -- estimates and bookings
        Act.CREATE_ESTIMATE: OFFICE,
        Act.APPROVE_ESTIMATE: OFFICE,
        Act.CONVERT_ESTIMATE: OFFICE,
        Act.TAKE_BOOKING: OFFICE,
        Act.MANAGE_USERS: (Role.ADMIN,),
        Act.MANAGE_DEVICES: (Role.ADMIN,),
        # the price book and report templates (issue 16)
        Act.EDIT_PRICE_BOOK: OFFICE,
        Act.EDIT_REPORT_TEMPLATES: (Role.ADMIN,),
        Act.SET_STOCK_SETTINGS: (Role.ADMIN,),
    }
)


def allowed(role: Role, act: Act) -> bool:
    """May ``role`` do ``act`` at all (whatever the job)?"""
    return role in MATRIX[act]


def require(actor: Actor, act: Act) -> None:
    """Raise ``Forbidden`` (the API's 403 wording) unless the actor's role may."""
    if not allowed(actor.role, act):
        names = ", ".join(r.value for r in MATRIX[act])
        raise Forbidden(f"this needs one of the roles: {names}")
