"""The Job page's panels as Dash components, from the model's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.pages.job import layout
from dashboard.pages.job.model import Offered


def _label(heading: str) -> Any:
    """The cell's column heading, shown beside it where the table stacks (phone)."""
    return {"data-label": heading}


def _table(
    head: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = ""
) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(cell, **_label(h))
                            for h, cell in zip(head, r, strict=True)
                        ]
                    )
                    for r in rows
                ]
            ),
        ],
        className=f"office-table {cls}".strip(),
    )


#: The office pages' table (a card a row at phone width, each cell labelled).
table = _table


def empty(text: str) -> html.P:
    return html.P(text, className="muted")


def header(number: str, status: str, label: str, client: str, description: str) -> Any:
    return [
        html.H3([number, " ", html.Span(label, className=f"status {status}")]),
        html.P([html.Strong(client), " · ", description]),
    ]


def facts(rows: Sequence[tuple[str, Any]]) -> html.Table:
    return html.Table(
        [html.Tr([html.Th(k), html.Td(v)]) for k, v in rows], className="details"
    )


def crew(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.Span("nobody yet", className="refused")
    return html.Ul(
        [
            html.Li(
                [html.Strong(r["name"]), f" — {r['role']}"],
                className="crew-"
                + ("manager" if r["role"] == "Job Manager" else "aux"),
            )
            for r in rows
        ],
        className="crew",
    )


def actions(offered: Sequence[Offered]) -> Any:
    """A button per offered action; a blocked one is disabled and lists why."""
    if not offered:
        return empty("No status action is open to you on this job.")
    parts: list[Any] = []
    for o in offered:
        parts.append(
            html.Button(
                o.label,
                id={"type": layout.ACT_BUTTON, "act": o.act.name},
                disabled=not o.enabled,
                className="primary" if o.enabled else "",
            )
        )
    blocked = [o for o in offered if not o.enabled]
    notes = [
        html.Div(
            [
                html.P(f"{o.label} is blocked until:", className="refused"),
                html.Ul([html.Li(b) for b in o.blockers], className="blockers"),
            ],
            id=f"job-blockers-{o.act.name.lower()}",
        )
        for o in blocked
    ]
    return [html.Div(parts, className="job-action-buttons"), *notes]


def line_items(rows: Sequence[Mapping[str, str]], totals: Mapping[str, str]) -> Any:
    head = ["Description", "Kind", "Qty", "Unit price", "Tax", "Net"]
    body = [
        [
            r["description"],
            r["kind"],
            r["quantity"],
            r["unit_price"],
            r["tax_rate"],
            r["net"],
        ]
        for r in rows
    ]
    return [
        _table(head, body, "line-items") if rows else empty("No line items yet."),
        html.P(
            [
                f"Net {totals['net']} · Tax {totals['tax']} · ",
                html.Strong(f"Total {totals['gross']}"),
            ],
            className="totals",
            id="job-li-totals",
        ),
    ]


def tasks(rows: Sequence[Mapping[str, Any]], may_tick: bool) -> Any:
    if not rows:
        return empty("No tasks on this job.")
    return html.Ul(
        [
            html.Li(
                [
                    dcc.Checklist(
                        id={"type": layout.TASK_BOX, "task": r["id"]},
                        options=[
                            {
                                "label": " " + r["title"],
                                "value": "done",
                                "disabled": not may_tick,
                            }
                        ],
                        value=["done"] if r["done"] else [],
                        inline=True,
                    ),
                    html.Span("required", className="badge required")
                    if r["required"]
                    else None,
                    html.Span(f"done {r['done_at']}", className="muted")
                    if r["done"]
                    else None,
                ],
                className="task" + (" task-done" if r["done"] else ""),
            )
            for r in rows
        ],
        className="tasks",
    )


def expenses(
    rows: Sequence[Mapping[str, str]], profit: Mapping[str, str] | None
) -> Any:
    parts: list[Any] = [
        _table(
            ["Expense", "Amount", "When", "Receipt"],
            [
                [
                    r["description"],
                    r["amount"],
                    r["at"],
                    html.A("receipt photo", href=r["receipt_url"], target="_blank")
                    if r["receipt_url"]
                    else r["receipt"],
                ]
                for r in rows
            ],
        )
        if rows
        else empty("No expenses logged.")
    ]
    if profit is not None:
        parts.append(
            facts(
                [
                    ("Revenue (net)", profit["revenue"]),
                    ("Expenses", profit["expenses"]),
                    (f"Labour ({profit['hours']} h)", profit["labour"]),
                    ("Profit", html.Strong(profit["profit"])),
                ]
            )
        )
    return parts


def attachments(groups: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> Any:
    """Before/after photos as thumbnails, documents by name; each downloadable."""
    if not groups:
        return empty("No photos or documents yet.")
    parts: list[Any] = []
    for title, rows in groups:
        parts.append(html.H5(title))
        parts.append(
            html.Ul(
                [
                    html.Li(
                        [
                            html.A(
                                html.Img(src=r["url"], alt=r["description"])
                                if r["image"]
                                else html.Span(r["filename"], className="file-name"),
                                href=r["url"],
                                target="_blank",
                            ),
                            html.Div(r["description"], className="file-caption"),
                            html.Div(
                                [
                                    f"{r['at']} · {r['size']} · ",
                                    html.A("Download", href=r["download"]),
                                ],
                                className="muted",
                            ),
                        ],
                        className="file",
                    )
                    for r in rows
                ],
                className="files",
            )
        )
    return parts


def notes(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return empty("No notes yet.")
    return html.Ul(
        [
            html.Li(
                [
                    html.Div(
                        [html.Strong(r["kind"]), f" · {r['by']} · {r['at']}"],
                        className="note-meta",
                    ),
                    html.Div(r["text"], className="note-text"),
                ],
                className=f"note note-{r['visibility']}",
            )
            for r in rows
        ],
        className="notes",
    )


def sessions(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return empty("Nobody has clocked in on this job.")
    return _table(
        ["Technician", "Clock in", "Clock out", "Worked", "Arrived", "Left", "Audit"],
        [
            [
                r["technician"],
                r["clock_in"],
                r["clock_out"],
                r["worked"],
                r["arrival"],
                r["departure"],
                dcc.Link("Location history", href=r["audit"]),
            ]
            for r in rows
        ],
    )


def history(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return empty("No history.")
    return _table(
        ["When", "Who", "What", "Details", "From"],
        [[r["at"], r["who"], r["what"], r["details"], r["source"]] for r in rows],
        "history",
    )


def family_heading(name: str, *, red: bool) -> html.H5:
    """A report family's heading, red when it has a mandatory field (the help
    page's rule; the Report tab and the report templates page both show it)."""
    return html.H5(name, className="report-family" + (" report-family-red" * red))


def field_label(label: str, mandatory: bool, *, missing: bool) -> html.Span:
    """A report field's label: starred when mandatory, red while its answer is
    missing (on a template nothing is answered yet: every mandatory one)."""
    return html.Span(
        [label, " *" if mandatory else ""],
        className="report-missing" if missing else "",
    )


def report(view: Mapping[str, Any] | None) -> Any:
    """Families (red: it has a mandatory field; a missing answer in red too), the
    reserves with their status and history, the signatures as images."""
    if view is None:
        return empty("No report on this job (no template assigned).")
    parts: list[Any] = [
        html.P(
            [
                html.Strong(view["template"]),
                f" · {view['status']}",
                f" by {view['completed']}" if view["completed"] else "",
            ]
        )
    ]
    if view["blockers"]:
        parts.append(
            html.Div(
                [
                    html.P(
                        "Still missing before the job can end:", className="refused"
                    ),
                    html.Ul(
                        [html.Li(b) for b in view["blockers"]], className="blockers"
                    ),
                ],
                id="report-blockers",
            )
        )
    for fam in view["families"]:
        rows = [
            [
                field_label(f["label"], f["mandatory"], missing=f["missing"]),
                html.Img(src=f["image"], alt=f["value"], className="report-sign")
                if f["image"]
                else f["value"],
                f["comment"],
                f"{f['reserves']} reserve(s)" if f["reserves"] else "",
            ]
            for f in fam["fields"]
        ]
        parts.append(
            html.Div(
                [
                    family_heading(fam["name"], red=fam["red"]),
                    _table(["Field", "Answer", "Comment", "Reserves"], rows),
                ]
            )
        )
    parts.append(html.H5("Reserves"))
    parts.append(
        html.Ul(
            [
                html.Li(
                    [
                        html.Div(
                            [
                                html.Span(
                                    r["status_label"],
                                    className=f"reserve-status reserve-{r['status']}",
                                ),
                                html.Strong(f" {r['field']}"),
                                f" · raised by {r['raised']}",
                            ]
                        ),
                        html.Div(r["comment"], className="note-text"),
                        html.Div(
                            [
                                html.A(html.Img(src=u, alt="reserve photo"), href=u)
                                for u in r["photos"]
                            ],
                            className="reserve-photos",
                        ),
                        html.Ul(
                            [html.Li(h) for h in r["history"]],
                            className="reserve-history muted",
                        )
                        if r["history"]
                        else None,
                    ],
                    className="reserve",
                )
                for r in view["reserves"]
            ],
            className="reserves",
        )
        if view["reserves"]
        else empty("No reserves.")
    )
    parts.append(html.H5("Signatures"))
    parts.append(
        html.Div(
            [
                html.Div(
                    [
                        html.Div(html.Strong(s["role"])),
                        html.Img(src=s["image"], alt=f"{s['role']} signature")
                        if s["image"]
                        else html.Div(
                            "not signed" + (" (required)" if s["required"] else ""),
                            className="refused" if s["required"] else "muted",
                        ),
                        html.Div(
                            f"{s['signer']} · {s['at']}"
                            + (
                                " · validated" if s["validated"] else " · not validated"
                            ),
                            className="muted",
                        )
                        if s["signed"]
                        else None,
                    ],
                    className="signature",
                )
                for s in view["signatures"]
            ],
            className="signatures",
        )
    )
    return parts


def _credit_qty(invoice_id: str, line: int, left: str) -> Any:
    """The quantity of the line to credit (empty: none of it)."""
    return dcc.Input(
        id={"type": layout.INV_CREDIT_QTY, "invoice": invoice_id, "line": line},
        placeholder=f"≤ {left}",
        className="num inv-credit-qty",
        disabled=left == "0",
    )


def _credit_notes(view: Mapping[str, Any]) -> list[Any]:
    """What the credit notes against an invoice credited, each with its PDF."""
    notes = view.get("credit_notes") or []
    if not notes:
        return []
    return [
        html.P(view["credited"], className="totals inv-credited"),
        html.Ul(
            [
                html.Li(
                    [
                        html.A(n["title"], href=n["pdf"], target="_blank"),
                        f" — {n['total']}",
                        f" — {n['reason']}" if n["reason"] else "",
                    ]
                )
                for n in notes
            ],
            className="inv-credit-notes",
        ),
    ]


def invoices(views: Sequence[Mapping[str, Any]] | None) -> Any:
    """Each invoice and credit note: status, payment, lines, totals, the actions
    the role and the status allow, and a preview of the PDF that is mailed."""
    if views is None:
        return empty("Invoices are not shown to your role.")
    if not views:
        return empty("No invoice yet: Generate Invoice once the job is completed.")
    parts: list[Any] = []
    for v in views:
        credited = bool(v.get("credit_notes"))
        head = ["Description", "Qty", "Unit price", "Tax", "Net"]
        head += ["Credited", "Left"] if credited else []
        head += ["Credit"] if v.get("creditable") else []
        lines = _table(
            head,
            [
                [
                    line["description"],
                    line["quantity"],
                    line["unit_price"],
                    line["tax_rate"],
                    line["net"],
                    *([line["credited"], line["left"]] if credited else []),
                    *(
                        [_credit_qty(v["id"], i, line["left"])]
                        if v.get("creditable")
                        else []
                    ),
                ]
                for i, line in enumerate(v["lines"])
            ],
        )
        buttons = [
            html.Button(
                a["label"],
                id={
                    "type": layout.INV_ACT,
                    "act": a["act"],
                    "invoice": v["id"],
                    "version": v["version"],
                },
                className="primary" if a["act"] == "SEND_INVOICE" else "",
            )
            for a in v["acts"]
        ]
        pay = (
            html.A(v["payment"], href=v["payment_url"], target="_blank")
            if v["payment_url"] and v["status"] == "issued"
            else v["payment"]
        )
        parts.append(
            html.Article(
                [
                    html.H5(
                        [
                            v["title"],
                            " ",
                            html.Span(
                                v["status_label"], className=f"status inv-{v['status']}"
                            ),
                        ]
                    ),
                    facts(
                        [
                            ("Bill to", v["client"]),
                            ("Payment", pay),
                            ("E-mailed", v["emailed"]),
                        ]
                    ),
                    lines,
                    html.P(v["totals"], className="totals"),
                    *_credit_notes(v),
                    html.Div(buttons, className="job-action-buttons"),
                    html.A(
                        html.Img(
                            src=v["preview"], alt="PDF preview", className="inv-preview"
                        ),
                        href=v["pdf"],
                        target="_blank",
                        title="Open the PDF",
                    ),
                    html.Div(html.A("Open the PDF", href=v["pdf"], target="_blank")),
                ],
                className="invoice",
                id=f"invoice-{v['id']}",
            )
        )
    return parts


def parts(view: Mapping[str, Sequence[Mapping[str, str]]]) -> Any:
    """Parts used with their serials, and what happened to each unit taken back."""
    used = view["parts"]
    back = view["take_backs"]
    return [
        html.H5("Parts used"),
        _table(
            ["Part", "Family", "Qty", "Serials", "From depot", "When"],
            [
                [
                    r["name"],
                    r["family"],
                    r["quantity"],
                    r["serials"],
                    r["depot"],
                    r["at"],
                ]
                for r in used
            ],
        )
        if used
        else empty("No parts used."),
        html.H5("Taken back"),
        _table(
            [
                "Serial",
                "Part",
                "Condition",
                "Was",
                "Went to",
                "Found at client",
                "When",
            ],
            [
                [
                    r["serial"],
                    r["item"],
                    html.Span(
                        r["condition_label"], className=f"unit unit-{r['condition']}"
                    ),
                    r["before"],
                    r["went_to"],
                    r["found"],
                    r["at"],
                ]
                for r in back
            ],
        )
        if back
        else empty("Nothing taken back."),
    ]
