"""Send invoices by e-mail over SMTP, with the PDF attached and the payment link."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SMTP_TIMEOUT_S = 15.0  # a mail relay that does not answer in 15 s is down, not slow


class MailError(Exception):
    """Raised when the SMTP server refuses or cannot be reached."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and as whom to send."""

    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False


@dataclass(frozen=True)
class InvoiceMail:
    """What goes into one invoice e-mail."""

    to: str
    subject: str
    body: str
    pdf: bytes
    filename: str


def build_message(config: SmtpConfig, mail: InvoiceMail) -> EmailMessage:
    """Compose the MIME message: text body plus the PDF attachment."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message.set_content(mail.body)
    message.add_attachment(
        mail.pdf, maintype="application", subtype="pdf", filename=mail.filename
    )
    return message


def _send_sync(config: SmtpConfig, message: EmailMessage) -> None:
    with smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_S) as smtp:
        if config.starttls:
            smtp.starttls()
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)


async def send_invoice_mail(config: SmtpConfig, mail: InvoiceMail) -> str:
    """Send the message (blocking smtplib runs in a thread); return its Message-ID."""
    message = build_message(config, mail)
    try:
        await asyncio.to_thread(_send_sync, config, message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {config.host}:{config.port}: {exc}") from exc
    return str(message["Message-ID"])
