"""A real SMTP server (aiosmtpd) that keeps every message it receives.

The server accepts a message only after storing it, so once our SMTP client
returns, the message is in :attr:`Inbox.messages`: tests need not wait.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from crewtrack.servers import PortAllocator


@dataclass
class Inbox:
    """Messages received, in order, parsed with the standard library."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """The running server: where to send, and what arrived."""

    host: str
    port: int
    inbox: Inbox


def run_smtp_server() -> Iterator[SmtpServer]:
    """Start aiosmtpd on a free loopback port (in its own thread) for a test."""
    inbox = Inbox()
    port = PortAllocator().free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
