"""Render an invoice or credit note as a PDF (fpdf2 with an embedded TTF font).

fpdf2's core fonts are Latin-1 only, so "€" and many accents would fail: the
document embeds DejaVu Sans (Debian ``fonts-dejavu-core``), whose path is a
setting so another TTF can stand in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from jobs_domain.invoicing import Invoice, InvoiceKind
from jobs_domain.money import format_decimal, format_money

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
COLUMNS = (
    ("Description", 86),
    ("Qty", 18),
    ("Unit price", 28),
    ("Tax", 16),
    ("Amount", 32),
)


@dataclass(frozen=True)
class Letterhead:
    """The issuing company as printed on every document."""

    company_name: str
    font_path: Path = DEFAULT_FONT


def money(amount: Decimal, currency: str) -> str:
    """``1,234.50 €``: the API's money format (two decimals, more only when
    significant: ``0.125 €``), thousands separated, symbol after."""
    exact = Decimal(format_money(amount))
    return f"{exact:,f} {CURRENCY_SYMBOLS.get(currency, currency)}"


def render_invoice_pdf(
    invoice: Invoice,
    letterhead: Letterhead,
    *,
    job_reference: str | None = None,
    payment_url: str | None = None,
) -> bytes:
    """Return the PDF bytes of an issued invoice or credit note."""
    title = "Credit note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "Invoice"
    pdf = FPDF(format="A4")
    pdf.set_title(f"{title} {invoice.number or 'draft'}")
    pdf.set_creator(letterhead.company_name)
    pdf.add_font("DejaVu", "", str(letterhead.font_path))
    pdf.add_page()
    pdf.set_font("DejaVu", size=18)
    pdf.cell(0, 10, letterhead.company_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", size=14)
    pdf.cell(
        0,
        9,
        f"{title} {invoice.number or '(draft)'}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font("DejaVu", size=10)
    issued = invoice.issued_at.date().isoformat() if invoice.issued_at else "not issued"
    meta = [f"Date: {issued}", f"Billed to: {invoice.client_name}"]
    if invoice.client_email:
        meta.append(invoice.client_email)
    if job_reference:
        meta.append(f"Job: {job_reference}")
    for text in meta:
        pdf.cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for name, width in COLUMNS:
        pdf.cell(
            width, 7, name, border="B", align="L" if name == "Description" else "R"
        )
    pdf.ln()
    for line in invoice.lines:
        y = pdf.get_y()
        wrapped = pdf.multi_cell(
            COLUMNS[0][1], 6, line.description, dry_run=True, output="LINES"
        )
        height = 6 * max(len(wrapped) if isinstance(wrapped, list) else 1, 1)
        if y + height > pdf.page_break_trigger:
            pdf.add_page()
            y = pdf.get_y()
        pdf.multi_cell(
            COLUMNS[0][1], 6, line.description, new_x=XPos.RIGHT, new_y=YPos.TOP
        )
        cells = (
            format_decimal(line.quantity),
            money(line.unit_price, invoice.currency),
            f"{format_decimal(line.tax_rate)} %",
            money(line.net, invoice.currency),
        )
        for (_, width), text in zip(COLUMNS[1:], cells, strict=True):
            pdf.cell(width, 6, text, align="R")
        pdf.set_xy(pdf.l_margin, y + height)
    pdf.ln(4)
    totals = invoice.totals
    label_width = sum(w for _, w in COLUMNS[:-1])

    def total_row(label: str, amount: Decimal) -> None:
        pdf.cell(label_width, 6, label, align="R")
        pdf.cell(COLUMNS[-1][1], 6, money(amount, invoice.currency), align="R")
        pdf.ln()

    total_row("Total without tax", totals.net)
    for tax_line in totals.tax_lines:
        total_row(
            f"Tax {format_decimal(tax_line.rate)} % on {money(tax_line.net, invoice.currency)}",
            tax_line.tax,
        )
    pdf.set_font("DejaVu", size=12)
    total_row("Total with tax", totals.gross)
    pdf.set_font("DejaVu", size=10)
    if invoice.public_notes:
        pdf.ln(4)
        pdf.cell(0, 6, "Notes", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for note in invoice.public_notes:
            pdf.multi_cell(0, 5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if payment_url:
        pdf.ln(4)
        pdf.multi_cell(
            0,
            5,
            f"Pay online: {payment_url}",
            link=payment_url,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    return bytes(pdf.output())


#: The preview's resolution: page 1 readable on a screen, a few hundred kB at most.
PREVIEW_DPI = 60


def preview_png(pdf: bytes, *, timeout_s: float = 20) -> bytes:
    """Page 1 of a PDF as a PNG (poppler's ``pdftoppm``, in every image we ship)."""
    import subprocess

    done = subprocess.run(
        ["pdftoppm", "-png", "-r", str(PREVIEW_DPI), "-singlefile", "-f", "1", "-"],
        input=pdf,
        capture_output=True,
        timeout=timeout_s,
        check=True,
    )
    return done.stdout
