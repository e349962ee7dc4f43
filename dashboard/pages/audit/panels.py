"""The HTML of the audit's evidence panel: summary, reconciliation, versions.

Pure functions from a shaped :class:`~dashboard.pages.audit.model.Audit` to
Dash components; no queries here.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from core.reconcile import Flag
from dashboard import queries
from dashboard.clock import localize_text
from dashboard.pages.audit import model as audit_mod
from services.evidence import EVIDENCE_ROLES

#: Where the audit page's evidence bundles are served (a Flask route).
BUNDLE_PATH = "/audit/evidence"
#: The answer is what the reader came for: larger than the evidence around it.
ANSWER_STYLE = {"fontSize": "16px", "fontWeight": 600, "lineHeight": 1.45}


def flag_text(flags: tuple[Flag, ...], zone: ZoneInfo) -> Any:
    """A reconciliation row's flags in one line, red if any is a warning."""
    if not flags:
        return html.Span("no flag", style={"color": "#1a9850"})
    return html.Span(
        "; ".join(localize_text(f.message, zone) for f in flags),
        style={
            "color": "#c53030"
            if any(f.severity == "warning" for f in flags)
            else "#2b6cb0"
        },
    )


def recon_table(a: audit_mod.Audit) -> Any:
    if a.session is None:
        return html.P(
            "Clock comparisons are shown for a job session (its stored visit record)."
        )
    if a.record is None:
        return html.P(
            "Not derived yet: the derive worker has not stored visits for this "
            "session, so there is no reconciliation to show.",
            id="recon-not-derived",
        )
    header = html.Tr([html.Th(h) for h in ("check", "clock", "GPS", "delta", "flags")])
    body = [
        html.Tr(
            [
                html.Td(r.label),
                html.Td(r.clock),
                html.Td(r.gps),
                html.Td(audit_mod.hms(r.delta_s)),
                html.Td(flag_text(r.flags, a.zone), className="recon-flag"),
            ]
        )
        for r in a.recon
    ]
    flags = (
        html.Ul(
            [
                html.Li(
                    [
                        html.Strong(f"{f.severity} · {f.code}: "),
                        localize_text(f.message, a.zone),
                    ],
                    className=f"recon-flag-{f.severity}",
                )
                for f in a.flags
            ],
            id="recon-flags",
        )
        if a.flags
        else html.P("No flags in this version.", id="recon-flags")
    )
    return html.Div(
        [
            html.Table([header, *body], id="recon-table", style={"fontSize": "12px"}),
            html.H5("Flags (as stored)"),
            flags,
        ]
    )


def lead(a: audit_mod.Audit, title: str) -> Any:
    """What the page leads with: the answer in plain words, the booked window."""
    items: list[Any] = [html.H3(title, className="audit-title")]
    if a.presence is not None:
        items.append(html.P(a.presence, id="audit-answer", style=ANSWER_STYLE))
    elif a.answer is not None:
        items.append(html.P(a.answer.sentence, id="audit-answer", style=ANSWER_STYLE))
    elif a.session is not None:
        items.append(
            html.P(
                "Not derived yet: no visit record is stored for this session.",
                id="audit-answer",
            )
        )
    else:
        items.append(
            html.P(
                "Pick a job session for the answer against its booked window, "
                "or ask Presence below; a technician's range shows the fixes "
                "and visits only.",
                id="audit-answer",
                className="muted",
            )
        )
    if a.booked is not None:
        items.append(
            html.P(
                f"Booked window: {a.booked_text()} ({a.zone.key})", id="audit-booked"
            )
        )
    flagged = audit_mod.flag_lines(a.fixes)
    if flagged:
        items.append(
            html.P(
                "Less certain: " + "; ".join(flagged) + " (orange on the map and "
                "in the table).",
                id="audit-fix-flags",
                className="audit-less-certain",
            )
        )
    return items


def problem(message: str) -> Any:
    """The lead when a question cannot be answered (a bad range or place)."""
    return [html.P(message, id="audit-answer", className="audit-problem")]


def evidence_link(a: audit_mod.Audit, role: str | None) -> Any:
    """The evidence bundle's download, for the roles that may take it."""
    if a.session is None or role not in {r.value for r in EVIDENCE_ROLES}:
        return None
    return html.A(
        "Evidence bundle (zip)",
        href=f"{BUNDLE_PATH}/{a.session.session_id}.zip",
        id="audit-evidence",
        className="button",
        style={"marginLeft": "8px"},
    )


def summary(a: audit_mod.Audit) -> Any:
    items: list[Any] = [
        html.P(f"Times in {a.zone.key}.", className="muted", id="audit-zone"),
        html.Ul(
            [html.Li(line) for line in audit_mod.coverage_lines(a.coverage, a.zone)],
            id="audit-coverage",
            style={"paddingLeft": "16px", "fontSize": "13px"},
        ),
    ]
    if a.stops:
        items.append(
            html.Details(
                [
                    html.Summary(f"{len(a.stops)} stops from the trail alone"),
                    html.Ul([html.Li(line) for line in audit_mod.stop_lines(a)]),
                ],
                id="audit-stops",
            )
        )
    if a.record is not None:
        items.append(html.P(a.record.label(a.zone), id="audit-record"))
        if not a.digest_matches:
            items.append(
                html.P(
                    "The stored fixes in this window have changed since this "
                    f"version (now {a.digest}); a newer version holds them.",
                    className="audit-digest-differs",
                )
            )
    elif a.session is not None:
        items.append(
            html.P(
                "Not derived yet: no visit record is stored for this session.",
                id="audit-record",
            )
        )
    elif a.derived_now:
        items.append(
            html.P(
                "Visits derived now from these fixes (no job session: not a "
                "stored visit record).",
                id="audit-record",
            )
        )
    if a.fence is None:
        items.append(html.P("No job site fence: showing the trail only."))
    if not a.visits and a.fence is not None and (a.record or a.derived_now):
        items.append(html.P("No visit to the site in this range."))
    for n, v in enumerate(a.visits, start=1):
        dw = v.departure_window
        items.append(
            html.Div(
                [
                    html.Div(
                        f"Arrival {n}: {audit_mod.fmt_time(v.arrival, a.zone)} "
                        "(window "
                        f"{audit_mod.fmt_time(v.arrival_window.earliest, a.zone)} – "
                        f"{audit_mod.fmt_time(v.arrival_window.latest, a.zone)})",
                        className="audit-arrival",
                    ),
                    html.Div(
                        f"Departure {n}{audit_mod.provisional(v)}: "
                        f"{audit_mod.fmt_time(v.departure, a.zone)}"
                        + (
                            ""
                            if dw is None
                            else " (window "
                            f"{audit_mod.fmt_time(dw.earliest, a.zone)} – "
                            f"{audit_mod.fmt_time(dw.latest, a.zone)})"
                        ),
                        className="audit-departure",
                    ),
                ],
                style={"marginBottom": "6px"},
            )
        )
    items.append(
        html.Small(
            f"Digest of the fixes shown: {a.digest}", style={"wordBreak": "break-all"}
        )
    )
    return html.Div(items)


def version_options(
    versions: list[queries.VersionRow], zone: ZoneInfo
) -> list[dict[str, Any]]:
    return [
        {
            "label": f"v{v.version} of {len(versions)} · "
            f"{audit_mod.fmt_time(v.derived_at, zone)}"
            f" · {v.fix_count} fixes · {v.input_digest[:16]}…",
            "value": v.version,
        }
        for v in reversed(versions)
    ]
