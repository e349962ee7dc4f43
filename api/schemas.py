"""JSON schemas of the jobs API: requests are validated against them, responses
documented with them, and both are served in the OpenAPI document."""

from __future__ import annotations

from typing import Any

S = dict[str, Any]
TIME: S = {"type": "string", "format": "date-time"}
UUID_S: S = {"type": "string", "format": "uuid"}
# What an offline app's outbox entry says about a write: the id it gave what the
# write creates (so later entries can refer to it), and when it was recorded.
RECORDED: dict[str, S] = {
    "id": UUID_S,
    "recorded_at": TIME,
}
LAT: S = {"type": "number", "minimum": -90, "maximum": 90}
LON: S = {"type": "number", "minimum": -180, "maximum": 180}
DECIMAL_IN: S = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 1000000000},
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,4})?$"},
    ]
}


# How decimals are written (jobs_domain.money): money with two decimals, more only
# when significant; quantities, hours and tax rates in their shortest exact form.
def _decimal_out(pattern: str, description: str, examples: list[str]) -> S:
    return {
        "type": "string",
        "pattern": pattern,
        "description": description,
        "examples": examples,
    }


MONEY_OUT: S = _decimal_out(
    r"^-?(0|[1-9][0-9]*)\.[0-9]{2}([0-9]*[1-9])?$",
    'Money: a decimal string with two decimals (`"60.00"`), more only when they '
    'are significant (a unit price of `"0.125"`).',
    ["60.00", "0.125"],
)
_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$"
QUANTITY_OUT: S = _decimal_out(
    _PLAIN_DECIMAL,
    "A quantity or a number of hours: the shortest exact decimal string "
    '(`"1"`, `"5.5"`), never an exponent.',
    ["1", "5.5"],
)
RATE_OUT: S = _decimal_out(
    _PLAIN_DECIMAL,
    'A tax rate in percent: the shortest exact decimal string (`"20"`, `"5.5"`).',
    ["20", "5.5"],
)
NULL_STR: S = {"type": ["string", "null"]}
CONTACT: S = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: {"type": "string", "maxLength": 320}
        for k in ("name", "phone", "mobile", "email")
    },
}
CUSTOM_FIELDS: S = {
    "type": "object",
    "maxProperties": 100,
    "propertyNames": {"maxLength": 64, "minLength": 1},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": 2000},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}
DESCRIPTION: S = {"type": "string", "minLength": 1, "maxLength": 5000}  # of the work
_LINE_ITEM_FIELDS: S = {
    "description": {"type": "string", "minLength": 1, "maxLength": 500},
    "quantity": DECIMAL_IN,
    "unit_price": DECIMAL_IN,
    "tax_rate": DECIMAL_IN,
}
LINE_ITEM_IN: S = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"price_book_item_id": UUID_S, **_LINE_ITEM_FIELDS},
}
LINE_ITEM_PATCH: S = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": _LINE_ITEM_FIELDS,
}
TASK_IN: S = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "required": {"type": "boolean"},
    },
}
TASK_PATCH: S = {
    "type": "object",
    "required": ["done"],
    "additionalProperties": False,
    "properties": {"done": {"type": "boolean"}, "recorded_at": TIME},
}
_JOB_FIELDS: S = {
    "description": DESCRIPTION,
    "property_id": UUID_S,
    "site_contact": CONTACT,
    "scheduled_start": TIME,
    "scheduled_end": TIME,
    "custom_fields": CUSTOM_FIELDS,
    "line_items": {"type": "array", "maxItems": 500, "items": LINE_ITEM_IN},
    "tasks": {"type": "array", "maxItems": 200, "items": TASK_IN},
}
CLIENT_JOB_IN: S = {
    "type": "object",
    "required": ["description"],
    "additionalProperties": False,
    "properties": _JOB_FIELDS,
    "dependentRequired": {
        "scheduled_start": ["scheduled_end"],
        "scheduled_end": ["scheduled_start"],
    },
}
JOB_IN: S = {
    **CLIENT_JOB_IN,
    "required": ["client_id", "description"],
    "properties": {"client_id": UUID_S, **_JOB_FIELDS},
}
JOB_PATCH: S = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: _JOB_FIELDS[k]
        for k in ("description", "property_id", "site_contact", "custom_fields")
    },
}
SCHEDULE_IN: S = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"start": TIME, "end": TIME, "technician_id": UUID_S},
}
REASON_IN: S = {
    "type": "object",
    "required": ["reason"],
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000}},
}
RESCHEDULE_IN: S = {
    "type": "object",
    "required": ["start", "end"],
    "additionalProperties": False,
    "properties": {
        "start": TIME,
        "end": TIME,
        "reason": {"type": "string", "maxLength": 2000},
    },
}
CREW_IN: S = {
    "type": "object",
    "required": ["role"],
    "additionalProperties": False,
    "properties": {"role": {"enum": ["job_manager", "auxiliary"]}},
}
EXPENSE_IN: S = {
    "type": "object",
    "required": ["description", "amount"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string", "minLength": 1, "maxLength": 500},
        "amount": DECIMAL_IN,
        "receipt_attachment_id": UUID_S,
        **RECORDED,
    },
}
NOTE_IN: S = {
    "type": "object",
    "required": ["visibility", "text"],
    "additionalProperties": False,
    "properties": {
        "visibility": {"enum": ["internal", "public"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 10000},
        **RECORDED,
    },
}
POSITION_IN: S = {
    "type": "object",
    "required": ["lat", "lon"],
    "additionalProperties": False,
    "properties": {
        "lat": LAT,
        "lon": LON,
        "accuracy_m": {"type": ["number", "null"], "minimum": 0, "maximum": 100000},
    },
}
SESSION_EVENT_IN: S = {
    "type": "object",
    "required": ["event"],
    "additionalProperties": False,
    "properties": {
        "event": {"enum": ["clock_in", "pause", "resume", "clock_out"]},
        "at": TIME,
        "technician_id": UUID_S,
        "device_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "position": POSITION_IN,
    },
}
ATTACHMENT_IN: S = {
    "type": "object",
    "required": ["file", "kind"],
    "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        "kind": {
            "enum": [
                "photo_before",
                "photo_after",
                "photo",
                "manual",
                "permit",
                "waiver",
                "receipt",
                "document",
            ]
        },
        "description": {"type": "string", "maxLength": 2000},
        **RECORDED,
    },
}
JOB_FILTERS: list[S] = [
    {
        "name": "status",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Comma-separated statuses.",
    },
    {"name": "technician_id", "in": "query", "schema": UUID_S},
    {"name": "client_id", "in": "query", "schema": UUID_S},
    {"name": "from", "in": "query", "schema": TIME},
    {"name": "to", "in": "query", "schema": TIME},
]

# -- responses ---------------------------------------------------------------------------


def obj(required_keys: list[str], **props: S) -> S:
    return {"type": "object", "required": required_keys, "properties": props}


def items_of(item: S, **extra: S) -> S:
    return obj(["items"], items={"type": "array", "items": item}, **extra)


TOTALS: S = obj(["net", "tax", "gross"], net=MONEY_OUT, tax=MONEY_OUT, gross=MONEY_OUT)
# Totals with the same per tax rate (parts, invoices).
TOTALS_BY_RATE: S = obj(
    ["net", "tax", "gross", "by_rate"],
    net=MONEY_OUT,
    tax=MONEY_OUT,
    gross=MONEY_OUT,
    by_rate={
        "type": "array",
        "items": obj(
            ["rate", "net", "tax", "gross"],
            rate=RATE_OUT,
            net=MONEY_OUT,
            tax=MONEY_OUT,
            gross=MONEY_OUT,
        ),
    },
)
# The priced fields of every line: line items, parts, invoice lines, the online view.
PRICED: dict[str, S] = {
    "quantity": QUANTITY_OUT,
    "unit_price": MONEY_OUT,
    "tax_rate": RATE_OUT,
    "net": MONEY_OUT,
}
CREW_MEMBER: S = obj(
    ["technician_id", "role"],
    technician_id={"type": "string"},
    name={"type": "string"},
    role={"enum": ["job_manager", "auxiliary"]},
)
# Scheduling answers name the crew's clashing bookings (a warning, not a refusal,
# unless CREWTRACK_REFUSE_DOUBLE_BOOKING).
WARNINGS: S = {
    "type": "array",
    "items": obj(
        ["code", "message"],
        code={"const": "double-booked"},
        message={"type": "string"},
        ref={"type": ["string", "null"]},
    ),
}
CREW_OUT: S = items_of(CREW_MEMBER, warnings=WARNINGS)
JOB_OUT: S = obj(
    ["id", "number", "status", "description", "client", "crew", "totals", "version"],
    id={"type": "string"},
    number={"type": "string", "pattern": "^J-[0-9]{6,}$"},
    status={
        "enum": [
            "pending",
            "scheduled",
            "in_progress",
            "on_hold",
            "completed",
            "cancelled",
        ]
    },
    description={"type": "string"},
    client=obj(["id", "name"], id={"type": "string"}, name={"type": "string"}),
    property={"type": ["object", "null"]},
    site_contact={"type": "object"},
    scheduled_start=NULL_STR,
    scheduled_end=NULL_STR,
    crew={"type": "array", "items": CREW_MEMBER},
    custom_fields={"type": "object"},
    hold_reason=NULL_STR,
    cancellation={"type": ["object", "null"]},
    completed_at=NULL_STR,
    completed_by=NULL_STR,
    estimate_id=NULL_STR,
    booking_id=NULL_STR,
    totals=TOTALS,
    version={"type": "integer"},
    created_at={"type": "string"},
    warnings=WARNINGS,
)
LINE_ITEM_OUT: S = obj(
    ["id", "kind", "description", "quantity", "unit_price", "tax_rate", "net"],
    id={"type": "string"},
    kind={"enum": ["part", "service", "custom"]},
    description={"type": "string"},
    **PRICED,
    price_book_item_id=NULL_STR,
)
LINE_ITEMS_OUT: S = items_of(LINE_ITEM_OUT, totals=TOTALS)
TASK_OUT: S = obj(
    ["id", "title", "required", "done"],
    id={"type": "string"},
    title={"type": "string"},
    required={"type": "boolean"},
    done={"type": "boolean"},
    done_by=NULL_STR,
    done_at=NULL_STR,
)
TASKS_OUT: S = items_of(TASK_OUT)
EXPENSE_OUT: S = obj(
    ["id", "description", "amount"],
    id={"type": "string"},
    description={"type": "string"},
    amount=MONEY_OUT,
    created_by={"type": "string"},
    created_at={"type": "string"},
    receipt_attachment_id=NULL_STR,
    receipt_status={"enum": ["attached", "pending", None]},
)
EXPENSES_OUT: S = items_of(EXPENSE_OUT)
NOTE_OUT: S = obj(
    ["id", "visibility", "text"],
    id={"type": "string"},
    visibility={"enum": ["internal", "public"]},
    text={"type": "string"},
    author_id={"type": "string"},
    author_name={"type": "string"},
    created_at={"type": "string"},
)
NOTES_OUT: S = items_of(NOTE_OUT)
ATTACHMENT_OUT: S = obj(
    ["id", "kind", "sha256", "size", "content_type", "url"],
    id={"type": "string"},
    kind={"type": "string"},
    description={"type": "string"},
    filename={"type": "string"},
    content_type={"type": "string"},
    size={"type": "integer"},
    sha256={"type": "string", "pattern": "^[0-9a-f]{64}$"},
    uploaded_by={"type": "string"},
    uploaded_at={"type": "string"},
    url={"type": "string"},
)
ATTACHMENTS_OUT: S = items_of(ATTACHMENT_OUT)
SESSION_OUT: S = obj(
    ["id", "technician_id", "state", "clocked_in_at", "intervals", "evidence"],
    id={"type": "string"},
    technician_id={"type": "string"},
    device_id=NULL_STR,
    state={"enum": ["running", "paused", "closed"]},
    clocked_in_at={"type": "string"},
    clocked_out_at=NULL_STR,
    worked_seconds={"type": "integer"},
    intervals={"type": "array"},
    evidence={"type": "array"},
    job_status={"type": "string"},
)
# A clock event that does not fit the technician's sessions yet (its clock-in
# has not synced, say): kept, and placed when the events around it arrive.
SESSION_PENDING_OUT: S = obj(
    ["placed", "technician_id", "event", "at", "reason", "detail"],
    placed={"const": False},
    technician_id={"type": "string"},
    event={"enum": ["clock_in", "pause", "resume", "clock_out"]},
    at={"type": "string"},
    event_id=NULL_STR,
    reason={"type": "string"},
    detail={"type": "string"},
    job_status={"type": "string"},
)
SESSIONS_OUT: S = items_of(
    SESSION_OUT, pending={"type": "array", "items": SESSION_PENDING_OUT}
)
HISTORY_OUT: S = obj(
    ["items", "next_cursor"],
    items={
        "type": "array",
        "items": obj(
            ["at", "action", "actor_name", "actor_role", "details", "source"],
            id={"type": "integer"},
            at={"type": "string"},
            actor_id=NULL_STR,
            actor_name={"type": "string"},
            actor_role={"type": "string"},
            action={"type": "string"},
            details={"type": "object"},
            source={"type": "string"},
        ),
    },
    next_cursor=NULL_STR,
)
BLOCKER: S = obj(
    ["code", "message"],
    code={"type": "string"},
    message={"type": "string"},
    ref=NULL_STR,
)
COMPLETION_CHECK_OUT: S = obj(
    ["can_complete", "blocking_items"],
    can_complete={"type": "boolean"},
    blocking_items={"type": "array", "items": BLOCKER},
)
PROFIT_OUT: S = obj(
    ["revenue", "expenses", "labour", "profit"],
    revenue=MONEY_OUT,
    expenses=MONEY_OUT,
    labour=MONEY_OUT,
    labour_hours=QUANTITY_OUT,
    profit=MONEY_OUT,
)
# Parts: the catalogue as the Add Item screen sees it, depot stock, a job's parts.
CATALOG_ITEM_OUT: S = obj(
    ["id", "name", "kind", "unit_price", "tax_rate"],
    id={"type": "string"},
    family={"type": "string"},
    name={"type": "string"},
    kind={"type": "string"},
    unit_price=MONEY_OUT,
    tax_rate=RATE_OUT,
    serialized={"type": "boolean"},
    sku=NULL_STR,
    bill_from_sessions={"type": "boolean"},
)
CATALOG_OUT: S = obj(
    ["families", "items"],
    families={"type": "array"},
    items={"type": "array", "items": CATALOG_ITEM_OUT},
)
SERIAL_CHECK_OUT: S = obj(
    ["serial", "found"],
    serial={"type": "string"},
    found={"type": "boolean"},
    item={"anyOf": [CATALOG_ITEM_OUT, {"type": "null"}]},
    family=NULL_STR,
    client_families={"type": "array", "items": {"type": "string"}},
)
DEPOT_STOCK_OUT: S = obj(
    ["depot_id", "stock", "serials"],
    depot_id={"type": "string"},
    stock={
        "type": "array",
        "items": obj(
            ["item_id", "quantity"], item_id={"type": "string"}, quantity=QUANTITY_OUT
        ),
    },
    serials={"type": "array"},
)
JOB_PART_OUT: S = obj(
    ["id", "item_id", "name", "kind", *PRICED],
    id={"type": "string"},
    job_id={"type": "string"},
    item_id={"type": "string"},
    family={"type": "string"},
    name={"type": "string"},
    kind={"type": "string"},
    **PRICED,
    serials={"type": "array", "items": {"type": "string"}},
    depot_id=NULL_STR,
    added_by={"type": "string"},
    added_at={"type": "string"},
)
JOB_PARTS_OUT: S = obj(
    ["job_id", "items", "totals", "take_backs"],
    job_id={"type": "string"},
    items={"type": "array", "items": JOB_PART_OUT},
    totals=TOTALS_BY_RATE,
    take_backs={"type": "array"},
)
JOB_PART_ADDED_OUT: S = {
    **JOB_PARTS_OUT,
    "required": ["item", *JOB_PARTS_OUT["required"]],
    "properties": {"item": JOB_PART_OUT, **JOB_PARTS_OUT["properties"]},
}
INVOICE_LINE_OUT: S = obj(
    ["description", *PRICED, "source"],
    description={"type": "string"},
    **PRICED,
    source={"type": "string"},
    source_ref=NULL_STR,
    serials={"type": "array", "items": {"type": "string"}},
    credits_line={
        "type": ["integer", "null"],
        "description": "A credit note's line: the index of the invoice line it credits",
    },
)
DECLINE_OUT: S = obj(
    ["declined", "job_id", "status"],
    declined={"type": "boolean"},
    job_id={"type": "string"},
    status={"type": "string"},
)
ONLINE_LINK_OUT: S = obj(
    ["token", "url"], token={"type": "string"}, url={"type": "string"}
)

# The change feed: each item is a job whole (overview, items, sessions, report,
# parts), so an app replaces its local copy.
CHANGES_OUT: S = obj(
    ["items", "removed", "next_cursor", "has_more"],
    items={
        "type": "array",
        "items": obj(
            ["id", "number", "status", "etag", "sessions", "report", "parts"],
            id={"type": "string"},
            number={"type": "string"},
            status={"type": "string"},
            etag={"type": "string"},
            line_items={"type": "array", "items": LINE_ITEM_OUT},
            tasks={"type": "array"},
            expenses={"type": "array", "items": EXPENSE_OUT},
            notes={"type": "array"},
            attachments={"type": "array"},
            sessions={"type": "array", "items": SESSION_OUT},
            pending_clock_events={"type": "array", "items": SESSION_PENDING_OUT},
            report={"type": ["object", "null"]},
            parts=JOB_PARTS_OUT,
        ),
    },
    removed={"type": "array", "items": {"type": "string"}},
    next_cursor={"type": "string"},
    has_more={"type": "boolean"},
)
