"""A small local server answering the Stripe API endpoints crewtrack calls.

It speaks Stripe's wire format to the official SDK: form-encoded requests with
bracketed keys, ``Authorization: Bearer sk_...``, ``Idempotency-Key`` (same key
and same parameters replay the first answer; different parameters get an
``idempotency_error``), JSON objects shaped like Stripe's, and errors as
``{"error": {"type": ..., "message": ...}}`` with Stripe's status codes.

Endpoints: ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``,
and the hosted page ``GET /c/pay/{id}``. :meth:`StripeFake.pay` plays the
customer paying: the session completes and a ``checkout.session.completed``
event is POSTed to the webhook URL, signed like Stripe signs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

API_VERSION = "2025-01-27.acacia"


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracket notation (``a[b][0][c]=v``) into nested values."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    result: dict[str, Any] = _lists(root)
    return result


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _lists(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def stripe_error(
    status: int, type_: str, message: str, param: str | None = None
) -> web.Response:
    error: dict[str, Any] = {"type": type_, "message": message}
    if param:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


@dataclass
class StripeFake:
    """The fake's state: sessions, idempotency records, delivered events."""

    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    create_calls: int = 0
    deliveries: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        app.router.add_get("/c/pay/{id}", self._hosted_page)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            header = request.headers.get("Authorization", "")
            if header != f"Bearer {self.api_key}":
                return stripe_error(
                    401, "invalid_request_error", "Invalid API Key provided."
                )
        response: web.StreamResponse = await handler(request)
        return response

    async def _create_session(self, request: web.Request) -> web.Response:
        body = await request.text()
        params = parse_form(parse_qsl(body, keep_blank_values=True))
        key = request.headers.get("Idempotency-Key")
        digest = hashlib.sha256(body.encode()).hexdigest()
        if key and key in self.idempotency:
            first_digest, first = self.idempotency[key]
            if first_digest != digest:
                return stripe_error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                )
            return web.json_response(first, headers={"Idempotent-Replayed": "true"})
        self.create_calls += 1
        problem = _check_session_params(params)
        if problem:
            return stripe_error(400, "invalid_request_error", *problem)
        session_id = "cs_test_" + secrets.token_hex(12)
        amount = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
            for item in params["line_items"]
        )
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "amount_subtotal": amount,
            "currency": params["line_items"][0]["price_data"]["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url}/c/pay/{session_id}",
            "payment_intent": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.sessions[session_id] = session
        if key:
            self.idempotency[key] = (digest, session)
        return web.json_response(session)

    async def _get_session(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return stripe_error(
                404,
                "invalid_request_error",
                f"No such checkout.session: '{request.match_info['id']}'",
                "id",
            )
        return web.json_response(session)

    async def _hosted_page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound()
        amount = session["amount_total"] / 100
        return web.Response(
            text=f"<h1>Pay {amount:.2f} {session['currency'].upper()}</h1>",
            content_type="text/html",
        )

    async def pay(self, session_id: str, *, secret: str | None = None) -> int:
        """Complete the session as a paying customer would; return the webhook's status."""
        session = self.sessions[session_id]
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent="pi_test_" + secrets.token_hex(12),
        )
        event = {
            "id": "evt_test_" + secrets.token_hex(12),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": "checkout.session.completed",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": session},
        }
        return await self.deliver(event, secret=secret)

    async def deliver(self, event: dict[str, Any], *, secret: str | None = None) -> int:
        """POST ``event`` to the webhook URL, signed with ``secret`` (default: ours)."""
        assert self.webhook_url, "set webhook_url first"
        payload = json.dumps(event).encode()
        header = sign_webhook(payload, secret or self.webhook_secret)
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                self.webhook_url,
                data=payload,
                headers={
                    "Stripe-Signature": header,
                    "Content-Type": "application/json",
                },
            ) as response,
        ):
            status = response.status
            body = await response.json(content_type=None)
        self.deliveries.append((status, body))
        return status


def _check_session_params(params: dict[str, Any]) -> tuple[str, str] | None:
    if params.get("mode") not in ("payment", "setup", "subscription"):
        return ("Missing required param: mode.", "mode")
    if not params.get("success_url"):
        return ("Missing required param: success_url.", "success_url")
    items = params.get("line_items")
    if not isinstance(items, list) or not items:
        return ("Missing required param: line_items.", "line_items")
    for i, item in enumerate(items):
        price = item.get("price_data") if isinstance(item, dict) else None
        if (
            not isinstance(price, dict)
            or not str(price.get("unit_amount", "")).isdigit()
        ):
            return (f"Invalid line_items[{i}][price_data][unit_amount].", "line_items")
        if not price.get("currency"):
            return (f"Missing line_items[{i}][price_data][currency].", "line_items")
    return None
