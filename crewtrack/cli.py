"""The ``crewtrack`` command: one CLI for every process and for administration.

Settings are read here, once, from ``CREWTRACK_*`` variables and passed down.
Commands import their process's modules lazily so that ``crewtrack --help``
and ``crewtrack admin …`` start fast and need no browser, broker or Dash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from crewtrack.settings import Settings, SettingsError, with_stack_secrets

Handler = Callable[[argparse.Namespace, Settings], int]


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.runner import up

    if args.devices is not None:
        settings = settings.replace(simulate_devices=args.devices)
    return up(settings)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import current_version, migrate

    applied = migrate(settings.database_url)
    for name in applied:
        print(f"applied {name}")
    print(f"schema version {current_version(settings.database_url)}")
    return 0


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.logs import setup_logging
    from crewtrack.wiring import JobEventBridge
    from ingest.service import run

    if args.client_id:
        settings = settings.replace(ingest_client_id=args.client_id)
    setup_logging(settings, settings.ingest_client_id)
    bridge = JobEventBridge(settings.database_url)  # clock events start/stop sessions
    try:
        run(settings, event_handlers=[bridge])
    finally:
        bridge.close()
    return 0


def _cmd_derive(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.logs import setup_logging
    from derive.worker import run

    setup_logging(settings, "derive")
    run(settings)
    return 0


def _cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from api.app import init_app
    from crewtrack.evidence import presenter
    from crewtrack.logs import setup_logging

    setup_logging(settings, "api")
    web.run_app(
        init_app(settings, evidence_presenter=presenter(settings)),
        host=settings.api_host,
        port=settings.api_port,
        print=None,
        access_log=None,
    )
    return 0


def _cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.logs import setup_logging
    from dashboard.app import run
    from ingest.broker_auth import hash_mqtt_password

    setup_logging(settings, "dashboard")
    run(settings, hash_mqtt_password)
    return 0


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.simulator import main as simulate

    return simulate(list(args.simulator_args), settings)


def _cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.demo.seed import SeedError
    from crewtrack.runner import seed_demo_and_print

    try:
        seed_demo_and_print(settings)
    except SeedError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _cmd_demo_day(args: argparse.Namespace, settings: Settings) -> int:
    from crewtrack.demo.day import run_day
    from crewtrack.logs import setup_logging

    setup_logging(settings, "demo")
    return run_day(settings, duration_s=args.duration)


def _cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt
    import logging

    import psycopg

    from crewtrack.logs import setup_logging
    from storage.retention import delete_expired_rows, drop_expired_chunks

    setup_logging(settings, "retention")
    log = logging.getLogger("crewtrack.retention")
    horizon = dt.timedelta(days=settings.retention_days)
    while True:
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                dropped = drop_expired_chunks(conn, horizon)
                deleted = delete_expired_rows(conn, horizon)
            log.info(
                "retention ran",
                extra={"dropped_chunks": len(dropped), "deleted_rows": deleted},
            )
        except psycopg.OperationalError as exc:
            log.warning("retention could not reach the database: %s", exc)
        if args.once:
            return 0
        time.sleep(settings.retention_interval_s)


# --- admin -------------------------------------------------------------------


class CliError(Exception):
    """A refusal the command prints (to stderr) before exiting with 1."""


def _user_id_for(conn: Any, email: str | None) -> UUID | None:
    """The id of the user with this e-mail (None when no e-mail is given)."""
    from storage.users import find_user_by_email

    if not email:
        return None
    user = find_user_by_email(conn, email)
    if user is None:
        raise CliError(f"no user with e-mail {email}")
    return user.id


def _print(args: argparse.Namespace, data: Mapping[str, object], text: str) -> None:
    print(json.dumps(data, default=str) if args.json else text)


def _token_ttl(days: int) -> dt.timedelta:
    if days <= 0:
        raise SettingsError(f"a token's lifetime must be at least one day, not {days}")
    return dt.timedelta(days=days)


def _cmd_evidence(args: argparse.Namespace, settings: Settings) -> int:
    """``crewtrack evidence …``: the tamper-evident log (docs/evidence.md)."""
    from pathlib import Path

    import psycopg

    from crewtrack import evidence as glue
    from services import evidence
    from storage import evidence_log

    action = args.evidence_command
    if action == "verify":
        pinned = evidence.load_public(Path(args.key).read_bytes()) if args.key else None
        problems = evidence.verify(Path(args.bundle).read_bytes(), pinned)
        for line in problems:
            print(f"FAIL: {line}")
        if not problems:
            note = "" if pinned else " (no --key given: the signer is not pinned)"
            print(f"OK: {args.bundle} verifies{note}")
        return 1 if problems else 0
    key = evidence.signing_key(settings.home)
    if action == "public-key":
        sys.stdout.write(evidence_log.public_pem(key.public_key()).decode())
        return 0
    if action == "notary":
        from crewtrack.logs import setup_logging

        setup_logging(settings, "notary")
        glue.run_notary(settings.database_url, settings.home, args.interval)
        return 0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if action == "checkpoint":
            appended, cp = evidence.notarize(conn, key)
            size = cp.tree_size if cp else "unchanged"
            print(f"appended {appended}; checkpoint {size}")
            return 0
        if action == "export":
            session = UUID(args.session)
            try:
                data = evidence.export_session(
                    conn, session, key, glue.presenter(settings)
                )
            except evidence.EvidenceError as exc:
                raise CliError(f"crewtrack: {exc}") from exc
            Path(args.output).write_bytes(data)
            print(f"wrote {args.output} ({len(data)} bytes)")
            return 0
        report = evidence_log.audit(conn, key.public_key())
    for kind, ref in report.changed:
        print(f"CHANGED: {kind} {ref}")
    for kind, ref in report.deleted:
        print(f"DELETED: {kind} {ref}")
    for kind, ref in report.inserted:
        print(f"INSERTED (never logged): {kind} {ref}")
    for line in report.checkpoint_problems:
        print(f"CHECKPOINT: {line}")
    print(
        f"{'OK' if report.ok else 'FAIL'}: {report.rows} rows against "
        f"{report.leaves} leaves"
    )
    return 0 if report.ok else 1


#: Who ``crewtrack admin`` acts as in the accounts' use cases: the operator at
#: the server, with an admin's rights.
CLI_ACTOR_ID = "00000000-0000-0000-0000-000000000000"


def _cli_actor() -> Any:
    from jobs_domain.actors import Actor, Role

    return Actor(CLI_ACTOR_ID, Role.ADMIN, "crewtrack admin", None, "cli")


def _refusal(exc: Any) -> str:
    """A use case's refusal as one line (with the field problems it names)."""
    problems = getattr(exc, "problems", [])
    parts = [f"{p.pointer.strip('/')}: {p.message}" for p in problems]
    return "; ".join(parts) if parts else str(exc)


def _run_accounts(settings: Settings, work: Callable[[Any], Any]) -> Any:
    """Run ``work(conn)`` (a ``services.accounts`` call) in one transaction;
    a refusal becomes a :class:`CliError`."""
    import asyncio

    import psycopg

    from jobs_domain.errors import DomainError

    async def run() -> Any:
        url = settings.database_url
        async with (
            await psycopg.AsyncConnection.connect(url) as conn,
            conn.transaction(),
        ):
            return await work(conn)

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise CliError(_refusal(exc)) from exc


def _cmd_add_user(args: argparse.Namespace, settings: Settings) -> int:
    """``services.accounts.add_user`` (the API's ``POST /users``), and a token."""
    from services import accounts
    from storage.users import aissue_token

    ttl = _token_ttl(settings.token_ttl_days)
    data = {
        "name": args.name,
        "role": args.role,
        "email": args.email,
        "password": args.password,
    }

    async def work(conn: Any) -> tuple[Any, str]:
        made = await accounts.add_user(conn, _cli_actor(), data)
        token, _expires = await aissue_token(conn, made.account.id, "cli", ttl=ttl)
        return made, token

    made, token = _run_accounts(settings, work)
    user = made.account
    out: dict[str, object] = {
        "id": str(user.id),
        "name": user.name,
        "role": user.role,
        "token": token,
    }
    text = f"user {user.id} ({user.role})\ntoken {token}"
    if made.password is not None:
        out["password"] = made.password
        text += f"\npassword {made.password} (generated, shown once)"
    _print(args, out, text)
    return 0


def _cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from storage.users import find_user_by_email, issue_token

    ttl = _token_ttl(args.ttl_days or settings.token_ttl_days)
    with psycopg.connect(settings.database_url) as conn:
        user = find_user_by_email(conn, args.email)
        if user is None:
            print(f"no user with e-mail {args.email}", file=sys.stderr)
            return 1
        token = issue_token(conn, user.id, args.label, ttl=ttl)
    expires = dt.datetime.now(dt.UTC) + ttl
    data = {"id": str(user.id), "token": token, "expires_at": expires.isoformat()}
    _print(args, data, f"token {token}\nexpires {expires:%Y-%m-%d %H:%M} UTC")
    return 0


def _cmd_list_tokens(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from storage.users import list_tokens

    with psycopg.connect(settings.database_url) as conn:
        tokens = list_tokens(conn, _user_id_for(conn, args.email))
    if args.json:
        print(json.dumps([vars(t) for t in tokens], default=str))
        return 0
    now = dt.datetime.now(dt.UTC)
    for t in tokens:
        if t.revoked_at is not None:
            state = "revoked"
        elif t.expires_at is not None and t.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        used = "never used" if t.last_used_at is None else f"used {t.last_used_at:%F}"
        until = "no expiry" if t.expires_at is None else f"expires {t.expires_at:%F}"
        print(
            f"{t.prefix or '(no prefix)'}\t{state}\t{t.email}\t{t.label}\t{until}\t{used}"
        )
    return 0


def _cmd_revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from storage.users import revoke_token, revoke_user_tokens

    if (args.token is None) == (args.email is None):
        print("give a token (or its prefix) or --email, not both", file=sys.stderr)
        return 2
    with psycopg.connect(settings.database_url) as conn:
        if args.token is not None:
            revoked = revoke_token(conn, args.token)
            if revoked == 0:
                print(
                    "no active token with that prefix (see `crewtrack admin "
                    "list-tokens`)",
                    file=sys.stderr,
                )
                return 1
        else:
            user_id = _user_id_for(conn, args.email)
            assert user_id is not None
            revoked = revoke_user_tokens(conn, user_id)
    _print(args, {"revoked": revoked}, f"revoked {revoked} token(s)")
    return 0


def _cmd_set_user_enabled(enabled: bool) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        return _set_user_enabled(settings, args.email, enabled)

    return handler


def _set_user_enabled(settings: Settings, email: str, enabled: bool) -> int:
    """disable-user / enable-user: ``services.accounts.disable`` / ``enable``,
    the API's and the dashboard's, so all of them and the broker see it."""
    from services import accounts
    from storage.users import account_by_email

    async def work(conn: Any) -> bool:
        found = await account_by_email(conn, email)
        if found is None:
            return False
        act = accounts.enable if enabled else accounts.disable
        await act(conn, _cli_actor(), str(found.user.id))
        return True

    if not _run_accounts(settings, work):
        raise CliError(f"no user with e-mail {email}")
    if enabled:
        print(f"enabled {email}")
    else:
        print(f"disabled {email}: tokens, dashboard login and devices refused")
    return 0


def _cmd_add_device(args: argparse.Namespace, settings: Settings) -> int:
    """``services.accounts.register_device`` (the API registers a phone with it)."""
    from ingest.broker_auth import hash_mqtt_password
    from services import accounts
    from storage.users import account_by_email

    async def work(conn: Any) -> Any:
        user_id = None
        if args.user_email:
            found = await account_by_email(conn, args.user_email)
            if found is None:
                raise CliError(f"no user with e-mail {args.user_email}")
            user_id = str(found.user.id)
        return await accounts.register_device(
            conn,
            _cli_actor(),
            args.device_id,
            user_id=user_id,
            label=args.label,
            hash_password=hash_mqtt_password,
            service_users=[settings.mqtt_username],
        )

    made = _run_accounts(settings, work)
    data: dict[str, object] = {
        **made.credentials.as_dict(),
        "mqtt_host": settings.mqtt_host,
        "mqtt_port": settings.mqtt_port,
    }
    text = "\n".join(f"{k}: {v}" for k, v in data.items())
    _print(args, data, text)
    return 0


def _cmd_revoke_device(args: argparse.Namespace, settings: Settings) -> int:
    from services import accounts

    async def work(conn: Any) -> bool:
        _device, changed = await accounts.revoke_device(
            conn, _cli_actor(), args.device_id
        )
        return changed

    try:
        changed = _run_accounts(settings, work)
    except CliError:
        changed = False
    if not changed:
        print(f"no active device {args.device_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.device_id}")
    return 0


def _cmd_list_devices(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT id, label, user_id, created_at, revoked_at, "
            "owntracks_key_sealed IS NOT NULL FROM devices ORDER BY id"
        ).fetchall()
    items = [
        {
            "id": r[0],
            "label": r[1],
            "user_id": r[2],
            "created_at": r[3],
            "revoked_at": r[4],
            "owntracks_key": r[5],  # whether one is set; never the key
        }
        for r in rows
    ]
    if args.json:
        print(json.dumps(items, default=str))
    else:
        for item in items:
            state = "revoked" if item["revoked_at"] else "active"
            key = "\towntracks-key" if item["owntracks_key"] else ""
            print(f"{item['id']}\t{state}\t{item['label']}{key}")
    return 0


def _read_passphrase(args: argparse.Namespace) -> str:
    """The passphrase from a file, a prompt, or one line of standard input
    (never an argument: it would show in ``ps`` and the shell's history)."""
    import getpass
    from pathlib import Path

    if args.passphrase_file:
        return Path(args.passphrase_file).read_text().rstrip("\r\n")
    if sys.stdin.isatty():
        return getpass.getpass("OwnTracks encryption key (as typed in the app): ")
    return sys.stdin.readline().rstrip("\r\n")


def _cmd_owntracks_key(set_key: bool) -> Handler:
    """set-owntracks-key / clear-owntracks-key: the same functions the API calls."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        import asyncio

        import psycopg

        from ingest.device_keys import set_passphrase
        from storage.devices import clear_owntracks_key

        passphrase = _read_passphrase(args) if set_key else ""

        async def run() -> bool:
            async with await psycopg.AsyncConnection.connect(
                settings.database_url, autocommit=True
            ) as conn:
                if set_key:
                    return await set_passphrase(
                        conn, settings.home, args.device_id, passphrase
                    )
                return await clear_owntracks_key(conn, args.device_id)

        try:
            if not asyncio.run(run()):
                raise CliError(f"no active device {args.device_id}")
        except ValueError as exc:  # an empty passphrase
            raise CliError(str(exc)) from None
        done = (
            "OwnTracks key set; its encrypted messages are opened from now on"
            if set_key
            else "OwnTracks key removed; its encrypted messages are rejected "
            "(encrypted_without_key)"
        )
        _print(
            args,
            {"device_id": args.device_id, "owntracks_key": set_key},
            f"{args.device_id}: {done}",
        )
        return 0

    return handler


def _cmd_broker_files(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from crewtrack.runner import write_broker_files
    from crewtrack.servers import MosquittoServer

    if not settings.mqtt_password:
        print(
            "CREWTRACK_MQTT_PASSWORD must be set for the ingest account",
            file=sys.stderr,
        )
        return 2
    if args.seed_demo and settings.demo:
        # The demo's phones must be in the password file the broker reads.
        _cmd_seed_demo(args, settings)
    devices = write_broker_files(
        MosquittoServer(Path(args.out), settings.mqtt_port), settings
    )
    print(f"wrote {args.out}/passwd and {args.out}/acl ({devices} devices)")
    return 0


# --- parser --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crewtrack",
        description="GPS tracking and job management for field-service companies. "
        "Settings come from CREWTRACK_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add(
        "up",
        _cmd_up,
        "Run the whole stack: private PostgreSQL+TimescaleDB, Redis and Mosquitto "
        "(data under CREWTRACK_HOME), migrations, ingest, derive, API, dashboard "
        "and a simulated fleet. Ctrl-C stops everything.",
    )
    p.add_argument("--devices", type=int, help="simulated phones (default: setting)")
    add("migrate", _cmd_migrate, "Apply pending SQL migrations and print the version.")
    p = add(
        "ingest",
        _cmd_ingest,
        "Run one ingest worker: MQTT (shared subscription) → TimescaleDB → Redis.",
    )
    p.add_argument("--client-id", help="stable MQTT client id of this replica")
    add(
        "derive",
        _cmd_derive,
        "Run the derive worker: re-derive arrival/departure of job sessions "
        "whose fixes changed, storing versioned visit records.",
    )
    add("api", _cmd_api, "Run the HTTP API (aiohttp) on CREWTRACK_API_PORT.")
    add(
        "dashboard",
        _cmd_dashboard,
        "Run the Dash dashboard on CREWTRACK_DASHBOARD_PORT.",
    )
    p = add(
        "simulate",
        _cmd_simulate,
        "Simulate phones publishing through the real broker "
        "(crewtrack simulate -- --help for its options; "
        "e.g. --devices N --rate HZ --duration S --offline-burst …).",
    )
    p.set_defaults(passes_unknown=True)
    add(
        "seed-demo",
        _cmd_seed_demo,
        "Create (or extend) the demo company through the services: clients and "
        "sites, price book, report templates, depots, technicians with phones, "
        "users of every role (new logins printed once), today's and tomorrow's "
        "jobs. Idempotent.",
    )
    p = add(
        "demo-day",
        _cmd_demo_day,
        "Live the demo company's day: each technician's phone drives to their "
        "next job, clocks in over MQTT, reports and completes through the API.",
    )
    p.add_argument("--duration", type=float, default=0, help="seconds; 0 = forever")
    p = add(
        "retention",
        _cmd_retention,
        "Drop chunks of fixes older than CREWTRACK_RETENTION_DAYS, on a schedule.",
    )
    p.add_argument("--once", action="store_true", help="run once and exit")

    ev = sub.add_parser(
        "evidence",
        help="The tamper-evident evidence log: export, verify, audit.",
        description="The tamper-evident evidence log (docs/evidence.md).",
    )
    ev.set_defaults(handler=_cmd_evidence)
    ev_sub = ev.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    p = ev_sub.add_parser("export", help="A job session's evidence bundle (zip).")
    p.add_argument("--session", required=True, help="job session id")
    p.add_argument("-o", "--output", required=True, help="FILE.zip")
    p = ev_sub.add_parser(
        "verify", help="Check a bundle offline; non-zero if it fails."
    )
    p.add_argument("bundle")
    p.add_argument("--key", help="the company's public key (PEM) to pin")
    ev_sub.add_parser("audit", help="Re-hash the database against its log.")
    ev_sub.add_parser("public-key", help="Print the evidence signing key (PEM).")
    ev_sub.add_parser("checkpoint", help="Append pending rows and sign once.")
    p = ev_sub.add_parser("notary", help="Append and sign checkpoints at an interval.")
    p.add_argument("--interval", type=float, default=30.0, help="seconds")

    admin = sub.add_parser(
        "admin",
        help="Users, tokens and devices.",
        description="Users, tokens and devices.",
    )
    admin_sub = admin.add_subparsers(
        dest="admin_command", required=True, metavar="ACTION"
    )

    def add_admin(
        name: str, handler: Handler, help_text: str
    ) -> argparse.ArgumentParser:
        p = admin_sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    p = add_admin(
        "add-user", _cmd_add_user, "Create a user with a role; print a token."
    )
    p.add_argument("--name", required=True)
    p.add_argument(
        "--role",
        required=True,
        choices=["admin", "dispatcher", "billing", "technician"],
    )
    p.add_argument("--email")
    p.add_argument("--password", help="login password for the dashboard")
    p = add_admin("token", _cmd_token, "Issue a new API token for a user.")
    p.add_argument("--email", required=True)
    p.add_argument("--label", default="cli")
    p.add_argument(
        "--ttl-days",
        type=int,
        help="days until the token expires (default: CREWTRACK_TOKEN_TTL_DAYS)",
    )
    p = add_admin(
        "list-tokens",
        _cmd_list_tokens,
        "List API tokens (prefix, state, user, label, expiry, last use); never the "
        "tokens themselves.",
    )
    p.add_argument("--email", help="only this user's tokens")
    p = add_admin(
        "revoke-token",
        _cmd_revoke_token,
        "Revoke an API token (the token or its prefix from list-tokens), or every "
        "token of a user (--email); the API refuses it (401) at once.",
    )
    p.add_argument("token", nargs="?", help="the token, or its prefix (ct_…)")
    p.add_argument("--email", help="revoke every token of this user")
    for name, enabled, help_text in (
        (
            "disable-user",
            False,
            "Shut a user out at once: their API tokens (401), dashboard session and "
            "login, and their devices are refused.",
        ),
        (
            "enable-user",
            True,
            "Undo disable-user: the user's tokens, login and the devices disable-user "
            "revoked work again (an archived technician is restored in the directory).",
        ),
    ):
        p = add_admin(name, _cmd_set_user_enabled(enabled), help_text)
        p.add_argument("--email", required=True)
    p = add_admin(
        "add-device",
        _cmd_add_device,
        "Register a phone; print its MQTT credentials and HTTP token (shown once).",
    )
    p.add_argument("device_id", help="[A-Za-z0-9_-]{1,64}; also the MQTT username")
    p.add_argument("--user-email", help="the technician who carries it")
    p.add_argument("--label", default="")
    p = add_admin("revoke-device", _cmd_revoke_device, "Revoke a device's credentials.")
    p.add_argument("device_id")
    add_admin("list-devices", _cmd_list_devices, "List registered devices.")
    p = add_admin(
        "set-owntracks-key",
        _cmd_owntracks_key(True),
        "Set the encryption key a device's OwnTracks app encrypts with (the app's "
        "Encryption key setting); read from --passphrase-file, a prompt or one "
        "line of standard input, stored sealed, never shown again.",
    )
    p.add_argument("device_id")
    p.add_argument("--passphrase-file", help="a file holding the passphrase")
    p = add_admin(
        "clear-owntracks-key",
        _cmd_owntracks_key(False),
        "Remove a device's OwnTracks key (its encrypted messages are then rejected).",
    )
    p.add_argument("device_id")
    p = add_admin(
        "broker-files",
        _cmd_broker_files,
        "Write Mosquitto's password file and ACL from the device registry "
        "(for brokers that `crewtrack up` does not run; send the broker SIGHUP after).",
    )
    p.add_argument("--out", required=True, help="folder for passwd and acl")
    p.add_argument(
        "--seed-demo",
        action="store_true",
        help="when CREWTRACK_DEMO is on, seed (or extend) the demo company first",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "passes_unknown", False):
        # The simulator parses its own options.
        args.simulator_args = [a for a in unknown if a != "--"]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        # `crewtrack admin …` next to `make run` uses the passwords `up` made.
        settings = with_stack_secrets(Settings.from_env())
    except SettingsError as exc:
        print(f"crewtrack: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except SettingsError as exc:
        print(f"crewtrack: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
