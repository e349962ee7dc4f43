"""``crewtrack up``: the whole stack on one machine, stopped cleanly by Ctrl-C.

Order: private servers (unless ``CREWTRACK_START_SERVERS=false``) → database
and migrations → the admin user and the stack's secrets → the demo company
(``crewtrack seed-demo``, unless ``CREWTRACK_DEMO=false``) → broker files from
the device registry → the processes (ingest replicas, derive, API, dashboard,
retention, and the demo company's living day - or anonymous simulated phones
when the demo is off), each restarted with back-off if it dies - and an
ingest replica also when it is alive but has not been connected to the broker
for ``CREWTRACK_INGEST_RESTART_AFTER_S`` (its metrics say so). A thread
listens for ``devices_changed`` and reloads Mosquitto's password file and ACL,
so ``crewtrack admin add-device`` works while the stack runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from crewtrack.logs import setup_logging
from crewtrack.servers import (
    MosquittoServer,
    PostgresServer,
    RedisServer,
    ServerError,
    Stack,
    new_password,
    open_private_log,
    port_is_open,
    private_dir,
    scram_verifier,
    write_private,
)
from crewtrack.settings import (
    APP_DB_ROLE,
    SECRETS_FILE,
    Settings,
    redact_url,
    with_stack_secrets,
)
from ingest.broker_auth import BrokerAccount, device_accounts, hash_mqtt_password
from ingest.metrics import sample, samples
from storage.devices import device_logins
from storage.migrate import migrate
from storage.users import create_user, issue_token

log = logging.getLogger("crewtrack.up")

RESTART_BACKOFF_S = (1, 2, 5, 10, 30)  # a crash loop must not eat the CPU
HEALTH_TIMEOUT_S = 60.0  # the API answers in ~2 s; 60 s covers a cold start
ADMIN_EMAIL = "admin@crewtrack.local"
INGEST_CHECK_INTERVAL_S = 5.0  # how often `up` asks a replica whether it is connected


@dataclass
class ConnectionWatch:
    """An ingest replica must be connected; one that stays disconnected is restarted.

    The replica reconnects by itself forever (ingest/mqtt.py); this is the
    last resort for whatever that cannot cure (a wedged process, a metrics
    server that no longer answers).
    """

    metrics_url: str
    restart_after_s: float
    connected_at: float = 0.0  # monotonic: when its metrics last said connected
    checked_at: float = 0.0
    restarting: bool = False  # asked to stop; the exit is restarted as any exit

    def why_restart(self, started_at: float, now: float) -> str | None:
        """Why the replica started at ``started_at`` must be restarted now, or None."""
        interval = min(INGEST_CHECK_INTERVAL_S, self.restart_after_s / 4)
        if (
            self.restart_after_s <= 0
            or self.restarting
            or now - self.checked_at < interval
        ):
            return None
        self.checked_at = now
        text = read_metrics(self.metrics_url)
        if text is not None and sample(text, "crewtrack_ingest_connected") == 1:
            self.connected_at = now
            return None
        since = max(self.connected_at, started_at)
        if now - since < self.restart_after_s:
            return None
        if text is None:
            detail = f"its metrics at {self.metrics_url} do not answer"
        else:
            failures = samples(text, "crewtrack_ingest_connection_failures_total")
            detail = "connection failures: " + (
                ", ".join(f"{k} {v:g}" for k, v in sorted(failures.items()) if v)
                or "none"
            )
        self.restarting = True
        return f"not connected to the broker for {now - since:.0f} s ({detail})"


def read_metrics(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own URL)
            text: str = resp.read().decode()
            return text
    except OSError:
        return None


def _new_evidence_key() -> str:
    from services.evidence import new_key_text

    return new_key_text()


def _new_sealing_secret() -> str:
    from storage.devices import new_sealing_secret

    return new_sealing_secret()


@dataclass
class Secrets:
    """Generated once per ``CREWTRACK_HOME`` and reused: the stack's credentials.

    A secrets file from an older version gains the ones it lacks (the server
    passwords) on the next start.
    """

    ingest_mqtt_password: str = field(default_factory=new_password)
    dashboard_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    admin_token: str = ""
    db_superuser_password: str = field(default_factory=new_password)  # `postgres`
    db_password: str = field(default_factory=new_password)  # the app role
    redis_password: str = field(default_factory=new_password)
    #: Ed25519 key signing the evidence log's checkpoints (services/evidence.py).
    evidence_signing_key: str = field(default_factory=_new_evidence_key)
    #: Seals devices' OwnTracks payload keys in the database (storage/devices.py).
    owntracks_key_secret: str = field(default_factory=_new_sealing_secret)

    @classmethod
    def load_or_create(cls, path: Path) -> Secrets:
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        loaded = cls(**stored)
        if set(stored) != {f.name for f in fields(cls)}:
            loaded.save(path)
        return loaded

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(vars(self), indent=2))


@dataclass
class Child:
    """A supervised process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)
    watch: ConnectionWatch | None = None

    def start(self) -> None:
        private_dir(self.log_path.parent)
        out = open_private_log(self.log_path)
        try:
            # umask 077: what the process writes (attachments…) is the owner's only.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,
            )
        finally:
            os.close(out)
        self.started_at = time.monotonic()
        if self.watch is not None:
            self.watch.connected_at = self.watch.checked_at = 0.0
            self.watch.restarting = False

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _port_of(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"no port in {url}")
    return port


def prepare_home(settings: Settings) -> tuple[Settings, Secrets]:
    """The home (owner-only), its secrets, and settings that use them: the
    broker and server passwords filled in where the user gave none."""
    home = private_dir(settings.home.resolve())
    sec = Secrets.load_or_create(home / SECRETS_FILE)
    settings = with_stack_secrets(
        settings.replace(
            home=home,
            mqtt_password=settings.mqtt_password or sec.ingest_mqtt_password,
            attachments_dir=settings.attachments_dir.resolve(),
        ),
        vars(sec),
    )
    private_dir(settings.attachments_dir)
    return settings, sec


def _stack_for(settings: Settings, sec: Secrets) -> Stack:
    home = settings.home.resolve()
    return Stack(
        PostgresServer(
            home / "pg" / "data",
            _port_of(settings.database_url),
            password=sec.db_superuser_password,
        ),
        RedisServer(
            home / "redis",
            _port_of(settings.redis_url),
            password=urlsplit(settings.redis_url).password or sec.redis_password,
            persist=True,
        ),
        MosquittoServer(home / "mosquitto", settings.mqtt_port),
    )


def _prepare_database(stack: Stack | None, settings: Settings) -> None:
    """Create the role and database on first run, then apply migrations.

    The app role's password is (re)set at every start, so a role made before
    passwords, or a password changed in the URL, takes effect.
    """
    if stack is not None:
        parts = urlsplit(settings.database_url)
        user = parts.username or APP_DB_ROLE
        dbname = parts.path.lstrip("/") or "crewtrack"
        password = sql.Literal(scram_verifier(parts.password or ""))
        with psycopg.connect(stack.pg.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname=%s", (user,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), password
                )
            )
            if (
                conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname=%s", (dbname,)
                ).fetchone()
                is None
            ):
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(dbname), sql.Identifier(user)
                    )
                )
        # The extension needs a superuser; everything else is owned by the app role.
        with psycopg.connect(stack.pg.dsn(dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for name in migrate(settings.database_url):
        log.info("applied migration %s", name)


def _ensure_admin(settings: Settings, sec: Secrets, secrets_path: Path) -> bool:
    """Create the admin user and token on first start; whether it did."""
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT id FROM users WHERE email = %s", (ADMIN_EMAIL,)
        ).fetchone()
        if row is None:
            user = create_user(
                conn, "Administrator", "admin", ADMIN_EMAIL, sec.admin_password
            )
            sec.admin_token = issue_token(
                conn,
                user.id,
                "crewtrack up",
                ttl=timedelta(days=settings.token_ttl_days),
            )
            sec.save(secrets_path)
            return True
    return False


def seed_demo_and_print(settings: Settings) -> None:
    """Seed (or extend) the demo company; its new logins are printed this once."""
    from crewtrack.demo.seed import seed_demo, summary

    for line in summary(seed_demo(settings)):
        print(line, flush=True)


def write_broker_files(mqtt: MosquittoServer, settings: Settings) -> int:
    """Write the broker's password file and ACL from the registry; the device count."""
    service = BrokerAccount(
        settings.mqtt_username, hash_mqtt_password(settings.mqtt_password), service=True
    )
    with psycopg.connect(settings.database_url) as conn:
        devices = device_accounts(device_logins(conn), [settings.mqtt_username])
    mqtt.write_accounts([service, *devices])
    return len(devices)


def _watch_devices(
    mqtt: MosquittoServer, settings: Settings, stop: threading.Event
) -> None:
    """Reload the broker whenever the device registry changes (LISTEN/NOTIFY)."""
    while not stop.is_set():
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute("LISTEN devices_changed")
                write_broker_files(mqtt, settings)
                mqtt.reload()
                while not stop.is_set():
                    changed = False
                    for _ in conn.notifies(timeout=1.0):
                        changed = True
                    if changed:
                        write_broker_files(mqtt, settings)
                        mqtt.reload()
                        log.info("device registry changed: broker reloaded")
        except psycopg.OperationalError as exc:
            if stop.is_set():
                return  # the stack is stopping: the database went first
            log.warning("device watcher lost the database (%s); retrying", exc)
            stop.wait(2.0)


def _children(settings: Settings, env: dict[str, str], logs: Path) -> list[Child]:
    py = [sys.executable, "-m", "crewtrack"]
    out: list[Child] = []

    def add(
        name: str, args: list[str], module: str, extra: dict[str, str] | None = None
    ) -> None:
        if _module_exists(module):
            out.append(
                Child(name, py + args, {**env, **(extra or {})}, logs / f"{name}.log")
            )
        else:
            log.info("%s is not part of this build yet; not started", name)

    shared = settings.ingest_shared_subscription or settings.ingest_workers > 1
    for i in range(settings.ingest_workers):
        add(
            f"ingest-{i}",
            ["ingest", "--client-id", f"ingest-{i}"],
            "ingest.service",
            {
                "CREWTRACK_INGEST_METRICS_PORT": str(settings.ingest_metrics_port + i),
                "CREWTRACK_INGEST_SHARED_SUBSCRIPTION": "true" if shared else "false",
            },
        )
        if out and out[-1].name == f"ingest-{i}":
            out[-1].watch = ingest_watch(settings, settings.ingest_metrics_port + i)
    add("derive", ["derive"], "derive.worker")
    # HTTP uploads (Traccar Client, the technician app) counted beside the ingest's
    add(
        "api",
        ["api"],
        "api.app",
        {"CREWTRACK_API_METRICS_PORT": str(api_metrics_port(settings))},
    )
    add("dashboard", ["dashboard"], "dashboard.app")
    add("retention", ["retention"], "storage.retention")
    # appends what was received and derived to the evidence log, signs checkpoints
    add("notary", ["evidence", "notary"], "storage.evidence_log")
    if settings.demo:
        add("demo", ["demo-day"], "crewtrack.demo.day")
    elif settings.simulate_devices > 0:
        add(
            "simulate",
            [
                "simulate",
                "--register",
                "--devices",
                str(settings.simulate_devices),
                "--rate",
                str(settings.simulate_rate_hz),
                "--duration",
                "0",
            ],
            "crewtrack.simulator",
        )
    return out


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own URL)
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def up(settings: Settings) -> int:
    setup_logging(settings.replace(log_json=False), "up")
    settings, sec = prepare_home(settings)
    home = settings.home
    secrets_path = home / SECRETS_FILE

    stack: Stack | None = None
    if settings.start_servers:
        stack = _stack_for(settings, sec)
        busy = [s.name for s in stack.servers if port_is_open(s.port)]  # type: ignore[attr-defined]
        if busy:
            print(
                f"crewtrack up: ports of {', '.join(busy)} are in use: is another "
                "`crewtrack up` running? Set CREWTRACK_DATABASE_URL / CREWTRACK_REDIS_URL / "
                "CREWTRACK_MQTT_PORT to other ports.",
                file=sys.stderr,
            )
            return 1
        try:
            stack.start()
        except ServerError as exc:
            print(f"crewtrack up: {exc}", file=sys.stderr)
            return 1

    stop = threading.Event()
    children: list[Child] = []
    try:
        _prepare_database(stack, settings)
        first_start = _ensure_admin(settings, sec, secrets_path)
        if settings.demo:
            seed_demo_and_print(settings)
        if stack is not None:
            write_broker_files(stack.mqtt, settings)
            stack.mqtt.reload()
            threading.Thread(
                target=_watch_devices, args=(stack.mqtt, settings, stop), daemon=True
            ).start()

        env = {**os.environ, **settings.as_env()}
        env["CREWTRACK_DASHBOARD_SECRET"] = (
            env.get("CREWTRACK_DASHBOARD_SECRET") or sec.dashboard_secret
        )
        children = _children(settings, env, home / "logs")
        for child in children:
            child.start()

        api_url = f"http://{settings.api_host}:{settings.api_port}"
        health_urls = {
            "api": f"{api_url}/api/v1/health",
            "dashboard": f"http://{settings.dashboard_host}:"
            f"{settings.dashboard_port}/healthz",
        }
        # "Up" means answering: wait for every HTTP process that was started.
        unhealthy = [
            c.name
            for c in children
            if c.name in health_urls
            and not _wait_http(health_urls[c.name], HEALTH_TIMEOUT_S)
        ]
        _print_banner(
            settings, sec if first_start else None, children, api_url, unhealthy
        )
        _supervise(children, stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        print("\ncrewtrack up: stopping…", file=sys.stderr)
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=15)
        if stack is not None:
            stack.stop()
        print("crewtrack up: stopped", file=sys.stderr)
    return 0


def _admin_lines(settings: Settings, created: Secrets | None) -> list[str]:
    """The admin's password and token when just created (shown this once),
    afterwards where they are kept and how to replace them."""
    if created is not None:
        return [
            f"  admin     : {ADMIN_EMAIL} / {created.admin_password}",
            f"  API token : {created.admin_token}",
            f"  (shown this once; kept owner-only in {settings.home / SECRETS_FILE})",
        ]
    return [
        f"  admin     : {ADMIN_EMAIL} (password and first API token: "
        f"{settings.home / SECRETS_FILE}, owner-only)",
        f"  new token : crewtrack admin token --email {ADMIN_EMAIL}",
        "  revoke    : crewtrack admin list-tokens / revoke-token",
    ]


def _print_banner(
    settings: Settings,
    created: Secrets | None,
    children: list[Child],
    api_url: str,
    unhealthy: list[str],
) -> None:
    names = ", ".join(c.name for c in children)
    late = (
        f" ({', '.join(unhealthy)} not answering yet: see the logs)"
        if unhealthy
        else ""
    )
    lines = [
        "",
        "crewtrack is up" + late,
        f"  processes : {names}",
        f"  API       : {api_url}/api/v1  (health: {api_url}/api/v1/health)",
        f"  dashboard : http://{settings.dashboard_host}:{settings.dashboard_port}/",
        f"  PostgreSQL: {redact_url(settings.database_url)}",
        f"  Redis     : {redact_url(settings.redis_url)}",
        f"  MQTT      : mqtt://{settings.mqtt_host}:{settings.mqtt_port}",
        f"  metrics   : ingest :{settings.ingest_metrics_port}/metrics, "
        f"API uploads :{api_metrics_port(settings)}/metrics",
        *_admin_lines(settings, created),
        f"  logs      : {settings.home / 'logs'}",
        "Ctrl-C stops everything; data stays in " + str(settings.home),
        "",
    ]
    print("\n".join(lines), flush=True)


def api_metrics_port(settings: Settings) -> int:
    """The API's metrics port under `up`: the configured one, else the port after
    the ingest replicas' (CREWTRACK_INGEST_METRICS_PORT, +1 each)."""
    return settings.api_metrics_port or settings.ingest_metrics_port + max(
        settings.ingest_workers, 1
    )


def ingest_watch(settings: Settings, metrics_port: int) -> ConnectionWatch:
    """The connection watch of the ingest replica serving metrics on ``metrics_port``."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "") else settings.api_host  # noqa: S104
    return ConnectionWatch(
        f"http://{host}:{metrics_port}/metrics", settings.ingest_restart_after_s
    )


def _supervise(children: list[Child], stop: threading.Event) -> None:
    """Restart children that die, with back-off; return on SIGTERM/SIGINT."""

    def _on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    while not stop.is_set():
        supervise_once(children, time.monotonic())
        time.sleep(0.5)


def supervise_once(children: list[Child], now: float) -> None:
    """One round: restart the dead (with back-off), stop the alive-but-useless."""
    for child in children:
        code = child.poll()
        if code is None and child.proc is not None and child.watch is not None:
            why = child.watch.why_restart(child.started_at, now)
            if why is not None:
                log.warning(
                    "%s is alive but %s; restarting it (log: %s)",
                    child.name,
                    why,
                    child.log_path,
                )
                child.terminate()
        if code is None or child.proc is None:
            continue
        if child.next_start == 0.0:
            if now - child.started_at > 60:
                child.restarts = 0  # it ran a while: start the back-off over
            delay = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
            log.warning(
                "%s exited with %s; restarting in %ss (log: %s)",
                child.name,
                code,
                delay,
                child.log_path,
            )
            child.next_start = now + delay
        elif now >= child.next_start:
            child.restarts += 1
            child.next_start = 0.0
            child.start()
