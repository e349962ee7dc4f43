"""The dashboard's pages: each a package with its layout and its callbacks.

``PAGES`` is what the app is made of: the router shows a page's layout at its
path, the header links to each in this order, and ``create_app`` registers
each page's callbacks. A new page is a package here and one line below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dash

from dashboard.context import Context
from dashboard.pages.audit import callbacks as audit_callbacks
from dashboard.pages.audit import layout as audit_layout
from dashboard.pages.bookings import callbacks as bookings_callbacks
from dashboard.pages.bookings import layout as bookings_layout
from dashboard.pages.clients import callbacks as clients_callbacks
from dashboard.pages.clients import layout as clients_layout
from dashboard.pages.day_board import callbacks as day_board_callbacks
from dashboard.pages.day_board import layout as day_board_layout
from dashboard.pages.estimates import callbacks as estimates_callbacks
from dashboard.pages.estimates import layout as estimates_layout
from dashboard.pages.invoices import callbacks as invoices_callbacks
from dashboard.pages.invoices import layout as invoices_layout
from dashboard.pages.job import callbacks as job_callbacks
from dashboard.pages.job import layout as job_layout
from dashboard.pages.jobs import callbacks as jobs_callbacks
from dashboard.pages.jobs import layout as jobs_layout
from dashboard.pages.live_map import callbacks as live_map_callbacks
from dashboard.pages.live_map import layout as live_map_layout
from dashboard.pages.price_book import callbacks as price_book_callbacks
from dashboard.pages.price_book import layout as price_book_layout
from dashboard.pages.report_templates import callbacks as report_templates_callbacks
from dashboard.pages.report_templates import layout as report_templates_layout
from dashboard.pages.technicians import callbacks as technicians_callbacks
from dashboard.pages.technicians import layout as technicians_layout
from dashboard.pages.users import callbacks as users_callbacks
from dashboard.pages.users import layout as users_layout
from jobs_domain.actors import Role
from jobs_domain.permissions import Act, allowed


@dataclass(frozen=True)
class Page:
    """One page: where it is, its header link, its layout and its callbacks."""

    path: str
    nav_label: str
    #: The page's components for the URL's query (``parse_qs`` of the search).
    layout: Callable[[Mapping[str, list[str]]], Any]
    register: Callable[[dash.Dash, Context], None]
    #: The header links to the page only for roles that may do this (None: all).
    act: Act | None = None


PAGES = (
    Page(
        live_map_layout.PATH,
        "Jobs map",
        live_map_layout.page,
        live_map_callbacks.register,
    ),
    Page(
        day_board_layout.PATH,
        "Day board",
        day_board_layout.page,
        day_board_callbacks.register,
    ),
    Page(jobs_layout.PATH, "Jobs", jobs_layout.page, jobs_callbacks.register),
    Page(job_layout.PATH, "", job_layout.page, job_callbacks.register),
    Page(
        estimates_layout.PATH,
        "Estimates",
        estimates_layout.page,
        estimates_callbacks.register,
    ),
    Page(
        bookings_layout.PATH,
        "Bookings",
        bookings_layout.page,
        bookings_callbacks.register,
    ),
    Page(
        invoices_layout.PATH,
        "Invoices",
        invoices_layout.page,
        invoices_callbacks.register,
    ),
    Page(
        clients_layout.PATH,
        "Clients",
        clients_layout.page,
        clients_callbacks.register,
    ),
    Page(
        technicians_layout.PATH,
        "Technicians",
        technicians_layout.page,
        technicians_callbacks.register,
    ),
    # the price book and report templates (issue 16)
    Page(
        price_book_layout.PATH,
        "Price book",
        price_book_layout.page,
        price_book_callbacks.register,
    ),
    Page(
        report_templates_layout.PATH,
        "Report templates",
        report_templates_layout.page,
        report_templates_callbacks.register,
    ),
    Page(
        users_layout.PATH,
        "Users & devices",
        users_layout.page,
        users_callbacks.register,
        Act.MANAGE_USERS,
    ),
    Page(
        audit_layout.PATH,
        "Arrival audit",
        audit_layout.page,
        audit_callbacks.register,
    ),
)
BY_PATH = {p.path: p for p in PAGES}
NAV = tuple((p.nav_label, p.path) for p in PAGES if p.nav_label)  # "": no link


def nav_for(role: str) -> tuple[tuple[str, str], ...]:
    """The header's links for a role: a page it may not use is not linked."""
    return tuple(
        (p.nav_label, p.path)
        for p in PAGES
        if p.nav_label and (p.act is None or allowed(Role(role), p.act))
    )
