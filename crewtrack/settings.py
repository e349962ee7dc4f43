"""Settings: ``CREWTRACK_*`` environment variables read once into a frozen object.

Every setting is declared once, below, with its environment variable, its
default and the reason for that default. ``Settings.from_env()`` is called by
the CLI (the composition root) and the object is passed down explicitly;
nothing else reads the environment. ``settings_table()`` renders the README's
configuration table, and a test checks the README and docker-compose.yml
against these declarations.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "CREWTRACK_"
SECRETS_FILE = (
    "secrets.json"  # under CREWTRACK_HOME, owner-only; see with_stack_secrets
)
APP_DB_ROLE = "crewtrack"  # the role `up` creates; its password is in the secrets file


def _setting(default: Any, doc: str) -> Any:
    """Declare a setting: its default and the one line that says why."""
    return field(default=default, metadata={"doc": doc})


class SettingsError(ValueError):
    """Raised when an environment variable holds a value of the wrong type."""


@dataclass(frozen=True)
class Settings:
    """Typed, frozen settings for every crewtrack process."""

    # --- where things live -------------------------------------------------
    home: Path = _setting(
        Path(".crewtrack"),
        "Data folder of `crewtrack up`: server data, logs, generated broker files; "
        "kept between runs so a second `make run` reuses the data.",
    )
    database_url: str = _setting(
        "postgresql://crewtrack@127.0.0.1:55432/crewtrack",
        "PostgreSQL + TimescaleDB DSN. The port is not 5432 so the stack never "
        "touches a PostgreSQL the machine already runs. Without a password in it, "
        "the password `up` generated (home's secrets.json) is used.",
    )
    redis_url: str = _setting(
        "redis://127.0.0.1:56379/0",
        "Redis for live positions, the GEO set, pub/sub and alert streams; "
        "private port for the same reason. Without a password (`redis://:pw@…`), "
        "the one `up` generated is used.",
    )
    mqtt_host: str = _setting("127.0.0.1", "MQTT broker host (Mosquitto, or EMQX).")
    mqtt_port: int = _setting(
        51883,
        "MQTT broker port; private so a machine's own Mosquitto on 1883 is untouched.",
    )
    mqtt_username: str = _setting(
        "crewtrack-ingest",
        "Broker account of the ingest workers (reads every device topic, writes none).",
    )
    mqtt_password: str = _setting(
        "", "Password of the ingest account; `crewtrack up` generates one under home."
    )
    # --- servers started by `crewtrack up` ----------------------------------
    start_servers: bool = _setting(
        True,
        "Whether `up` starts PostgreSQL, Redis and Mosquitto itself (on the ports "
        "of CREWTRACK_DATABASE_URL, CREWTRACK_REDIS_URL and CREWTRACK_MQTT_PORT); "
        "false when they are provided (docker-compose, managed services).",
    )
    # --- processes ----------------------------------------------------------
    api_host: str = _setting(
        "127.0.0.1", "API bind address; loopback by default, set 0.0.0.0 in containers."
    )
    api_port: int = _setting(
        8080, "API port (README, docker-compose and the app use it)."
    )
    api_idle_timeout_s: int = _setting(
        15,
        "A connection to the API that has not sent a whole request head this many "
        "seconds after it opened (or after its last answer) is closed: slow and idle "
        "clients cannot hold connections.",
    )
    api_body_timeout_s: int = _setting(
        120,
        "A request body must arrive within this many seconds of its head, else 408 "
        "and the connection is closed (a 25 MB upload needs about 1.7 Mbit/s).",
    )
    dashboard_host: str = _setting("127.0.0.1", "Dashboard bind address.")
    dashboard_port: int = _setting(8050, "Dashboard port (Dash's customary port).")
    dashboard_secret: str = _setting(
        "",
        "Key that signs the dashboard's session cookie; `crewtrack up` generates one "
        "under home. Empty = a random key per process (logins end on restart).",
    )
    dashboard_tile_url: str = _setting(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Street basemap under the dashboard maps (raster tiles, fetched by the "
        "browser, and by the server for the evidence PDF's site map, 3 s a tile; "
        "OpenStreetMap's standard tiles, attributed on the map). `none` "
        "or empty = offline mode: no basemap, everything drawn from local data. "
        "When the tiles cannot load, the map stays white and still draws fences, "
        "markers and labels.",
    )
    dashboard_plotly: str = _setting(
        "auto",
        "`auto`: the dashboard's pages run plotly.js once Dash has started (its "
        "first layout is not held back by the 3 MB script), when the installed "
        "Dash is the checked 4.4 series and still loads plotly.js as checked; "
        "`in-page`: always among the page's scripts. The choice is logged.",
    )
    dashboard_session_hours: int = _setting(
        12,
        "Lifetime of a dashboard login (cookie and server-side session): a working "
        "day; logging out, disabling the user or changing their role ends it sooner.",
    )
    dashboard_trusted_proxies: int = _setting(
        0,
        "Reverse proxies in front of the dashboard whose X-Forwarded-For/-Proto are "
        "believed (0 = none): the client address the login limit counts, and HTTPS "
        "(the session cookie is then `Secure`).",
    )
    dashboard_login_limit_per_ip: int = _setting(
        30,
        "Login attempts (the dashboard form and the technician app's POST /auth/login, "
        "counted together) one client address may make per window; over it the "
        "answer is 429 with Retry-After, even for the right password.",
    )
    dashboard_login_limit_per_account: int = _setting(
        10,
        "Login attempts (dashboard and technician app together) for one e-mail "
        "address per window (a success starts its count over), so password guessing "
        "from many addresses stops too.",
    )
    dashboard_login_window_s: int = _setting(
        900, "Length of the dashboard login rate-limit window (Redis counters)."
    )
    log_level: str = _setting("INFO", "Log level of every process.")
    log_json: bool = _setting(
        True, "Structured JSON log lines (one object a line) for log shippers."
    )
    # --- accounts -----------------------------------------------------------
    token_ttl_days: int = _setting(
        90,
        "Lifetime of a new API token (`crewtrack admin add-user`/`token`, the admin "
        "token of `up`): a leaked token stops working by itself; a quarter leaves "
        "integrations a calendar reminder, not a weekly chore. "
        "`crewtrack admin token --ttl-days N` overrides it per token.",
    )
    # --- ingest -------------------------------------------------------------
    ingest_client_id: str = _setting(
        "ingest-0",
        "Stable MQTT client id of this ingest replica: the broker keeps its "
        "persistent session (queued messages) under this id.",
    )
    ingest_workers: int = _setting(
        1,
        "Ingest replicas `up` starts (ids ingest-0 … ingest-N-1), sharing a subscription.",
    )
    ingest_batch_size: int = _setting(
        2000,
        "Fixes per COPY: large enough to amortise the commit, small enough that "
        "the broker's in-flight window holds a whole batch.",
    )
    ingest_flush_interval_ms: int = _setting(
        50, "Longest a fix waits for its batch: keeps publish → map latency low."
    )
    ingest_metrics_port: int = _setting(
        9108, "Prometheus metrics port of the first ingest replica (next ones +1)."
    )
    api_metrics_port: int = _setting(
        0,
        "Prometheus metrics port of the API server (HTTP uploads: Traccar Client, "
        "the technician app), on CREWTRACK_API_HOST; 0 = not served. Same metric "
        "names as the ingest's.",
    )
    ingest_shared_subscription: bool = _setting(
        False,
        "Subscribe through `$share/ingest/…` so several replicas split the load "
        "(`up` turns it on when CREWTRACK_INGEST_WORKERS > 1). Off by default: "
        "Mosquitto 2.0 forgets shared subscriptions when it restarts, so messages "
        "sent before the workers re-subscribe would be lost; a plain persistent "
        "subscription keeps them. EMQX clusters keep shared ones.",
    )
    ingest_mqtt_fast_path: str = _setting(
        "auto",
        "`auto`: read MQTT through paho-mqtt's private packet reader and our own "
        "PUBLISH decode (half the loop's time per message) when the installed paho "
        "is the checked 2.2 series and a start-up self-test matches paho's own "
        "decoding, else paho's public path; `off`: always the public path. The "
        "choice is logged and exported as `crewtrack_ingest_mqtt_fast_path`.",
    )
    ingest_reconnect_max_s: float = _setting(
        10.0,
        "Longest wait between two attempts to reach the broker: the ingest retries "
        "forever (refused credentials, network, broker restart), starting at 50 ms "
        "and doubling with jitter up to this.",
    )
    ingest_restart_after_s: float = _setting(
        120.0,
        "`up` restarts an ingest replica that is alive but has not been connected "
        "and subscribed for this long (0 = never), and logs why.",
    )
    max_future_skew_s: int = _setting(
        600, "A fix more than this far in the future is rejected (clock-skewed phone)."
    )
    osmand_unknown_limit_per_ip: int = _setting(
        10,
        "OsmAnd uploads with a wrong token recorded as `unknown_device` per client "
        "address per window (besides once a minute per claimed id); the rest are "
        "answered 401 and not recorded.",
    )
    osmand_unknown_limit_total: int = _setting(
        100,
        "`unknown_device` rows all addresses together may add per window, so made-up "
        "ids from many addresses cannot flood the rejected-messages table.",
    )
    osmand_unknown_window_s: int = _setting(
        3600, "Length of the OsmAnd unknown-token recording window (Redis counters)."
    )
    # --- retention ----------------------------------------------------------
    retention_days: int = _setting(
        400,
        "Fixes older than this are dropped by whole chunks: 13 months covers a "
        "yearly billing cycle plus a dispute window.",
    )
    retention_interval_s: int = _setting(
        3600,
        "How often the retention job runs `drop_chunks` (hourly is plenty for 1-day chunks).",
    )
    # --- jobs ---------------------------------------------------------------
    booking_default_status: str = _setting(
        "pending",
        "Status of a job created by online booking: `pending` (office confirms) "
        "or `scheduled` (auto-confirm).",
    )
    online_booking_limit_per_ip: int = _setting(
        10,
        "Public online bookings (`POST /online/bookings`, no token) one client IP "
        "address may send per window; a household books once or twice, a script "
        "more. Over it: 429 with Retry-After.",
    )
    online_booking_limit_total: int = _setting(
        200,
        "Public online bookings all IP addresses together may send per window, so "
        "a flood from many addresses cannot bury the office's Pending list.",
    )
    online_booking_window_s: int = _setting(
        3600, "Length of the online-booking rate-limit window (Redis counters)."
    )
    online_link_days: int = _setting(
        90,
        "Days a customer's online job link (`/online/jobs/{token}`) works after it "
        "was made; then it answers 404 like a revoked one.",
    )
    technician_can_decline: bool = _setting(
        True, "Whether technicians may decline a job from the app (help page, step 1)."
    )
    technician_can_reschedule: bool = _setting(
        True,
        "Whether technicians may reschedule a job from the app (help page, step 1).",
    )
    technician_can_duplicate: bool = _setting(
        True,
        "Whether technicians may duplicate a job from the app (help page, step 1).",
    )
    refuse_double_booking: bool = _setting(
        False,
        "Refuse (409 double-booked) to schedule, reschedule or assign a technician "
        "already booked on another live job at that time; otherwise the answer warns.",
    )
    technician_can_create_jobs: bool = _setting(
        False,
        "Whether technicians may create jobs from the app (help page, intro); off "
        "by default because new jobs are normally the office's to create.",
    )
    attachments_dir: Path = _setting(
        Path(".crewtrack/attachments"),
        "Content-addressed (sha256) store for photos and documents on local disk.",
    )
    max_attachment_bytes: int = _setting(
        25 * 1024 * 1024, "Largest upload accepted: a phone photo or a scanned permit."
    )
    # --- report alerts, invoices, payments ------------------------------------
    alerts_stream: str = _setting(
        "crewtrack:alerts",
        "Redis stream the back office (dashboard) reads reserve alerts from; "
        "capped at about 10 000 entries.",
    )
    reserve_webhook_url: str = _setting(
        "",
        "URL that receives each reserve alert as a signed JSON POST; empty = "
        "Redis stream only.",
    )
    reserve_webhook_secret: str = _setting(
        "",
        "HMAC-SHA256 key of the reserve webhook's `X-Crewtrack-Signature` "
        "(`t=<unix>,v1=<hex of t.body>`).",
    )
    derive_settle_s: float = _setting(
        3600.0,
        "Seconds after clock-out, and after a closed session's fixes last changed, "
        "until its visit record is marked final (late offline backlogs settle).",
    )
    company_name: str = _setting(
        "crewtrack", "Company name printed on invoices and in invoice e-mails."
    )
    company_timezone: str = _setting(
        "Europe/Berlin",
        "IANA time zone of the company: every time a person reads (dashboard, "
        "audit, PDFs, e-mails, the demo day's schedule) is shown in it; exports "
        "and the API stay UTC. The default is the demo company's (Munich).",
    )
    invoice_font_path: Path = _setting(
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        "TTF embedded in invoice PDFs; core PDF fonts lack € and most accents "
        "(Debian `fonts-dejavu-core`).",
    )
    smtp_host: str = _setting("127.0.0.1", "SMTP relay that sends invoice e-mails.")
    smtp_port: int = _setting(
        25, "SMTP relay port (587 with STARTTLS at most providers)."
    )
    smtp_from: str = _setting(
        "billing@crewtrack.invalid", "Sender address of invoice e-mails."
    )
    smtp_username: str = _setting("", "SMTP login; empty = no AUTH (a local relay).")
    smtp_password: str = _setting("", "SMTP password of `smtp_username`.")
    smtp_starttls: bool = _setting(
        False, "Upgrade the SMTP connection with STARTTLS before sending."
    )
    stripe_api_key: str = _setting(
        "",
        "Stripe secret key (`sk_...`); empty = invoices are sent without a pay link.",
    )
    stripe_api_base: str = _setting(
        "https://api.stripe.com",
        "Stripe API address; tests point it at a local server speaking Stripe's API.",
    )
    stripe_webhook_secret: str = _setting(
        "",
        "Signing secret (`whsec_...`) of the Stripe webhook endpoint that marks "
        "invoices paid; empty = the endpoint refuses every event.",
    )
    public_base_url: str = _setting(
        "http://127.0.0.1:8080",
        "Where customers reach this service; Stripe sends them back here after paying.",
    )
    phone_mqtt_host: str = _setting(
        "",
        "The MQTT host phones connect to, shown in a registered phone's set-up "
        "and QR codes; empty = the host of CREWTRACK_PUBLIC_BASE_URL.",
    )
    phone_mqtt_port: int = _setting(
        0,
        "The MQTT port phones connect to (a TLS listener or proxy in production); "
        "0 = CREWTRACK_MQTT_PORT.",
    )
    phone_mqtt_tls: bool = _setting(
        False,
        "Whether phones connect to the broker over TLS (set it with a TLS "
        "listener or proxy in front of the broker; docs/operations.md).",
    )
    # --- demo ---------------------------------------------------------------
    demo: bool = _setting(
        True,
        "`up` seeds the demo company (`crewtrack seed-demo`) and runs its living "
        "day: the technicians' phones work the schedule. Turn it off in "
        "production; CREWTRACK_SIMULATE_DEVICES then starts anonymous phones.",
    )
    simulate_devices: int = _setting(
        20,
        "Anonymous simulated phones that `up` starts when CREWTRACK_DEMO is off "
        "(0 = none); `crewtrack simulate` takes it too (load tests).",
    )
    simulate_rate_hz: float = _setting(
        0.2,
        "Fixes per second per simulated phone (one every 5 s, a typical app setting).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``CREWTRACK_<NAME>`` variable; unset ones keep their default."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(env_name(f.name))
            if raw is None:
                continue
            values[f.name] = _parse(f.name, f.default, raw)
        settings = cls(**values)
        settings.company_zone  # noqa: B018 - fail at start on an unknown zone
        return settings

    @property
    def company_zone(self) -> ZoneInfo:
        """The company's time zone (``CREWTRACK_COMPANY_TIMEZONE``)."""
        try:
            return ZoneInfo(self.company_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"{env_name('company_timezone')}={self.company_timezone!r} is not an "
                "IANA time zone (e.g. Europe/Berlin, America/Chicago)"
            ) from exc

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed (tests, the runner)."""
        return dataclasses.replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """Render as ``CREWTRACK_*`` variables, for child processes."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                out[env_name(f.name)] = "true" if value else "false"
            else:
                out[env_name(f.name)] = str(value)
        return out


def _with_password(url: str, password: str, user: str | None = None) -> str:
    """``url`` with ``password`` (and ``user``, else the URL's own user)."""
    parts = urlsplit(url)
    user = quote(unquote(parts.username or "") if user is None else user, safe="")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_stack_secrets(
    settings: Settings, stack_secrets: Mapping[str, str] | None = None
) -> Settings:
    """Fill in the passwords of the servers ``crewtrack up`` runs.

    When the servers are ours (``start_servers``), a database URL (the app
    role's, ``crewtrack`` unless it names another) and a Redis URL that carry
    no password get the ones generated in the
    home's secrets file (``stack_secrets``, read from there when not given). A
    password the user put in a URL wins; without a secrets file nothing changes.
    Every process of the stack (``up``'s children, ``crewtrack admin …`` in
    another shell) thus connects the same way.
    """
    if not settings.start_servers:
        return settings
    if stack_secrets is None:
        path = settings.home / SECRETS_FILE
        try:
            stack_secrets = json.loads(path.read_text())
        except OSError:  # none yet, or another user's: no password to add
            return settings
    changes: dict[str, str] = {}
    db = urlsplit(settings.database_url)
    db_password = stack_secrets.get("db_password", "")
    if db.password is None and db_password:
        changes["database_url"] = _with_password(
            settings.database_url, db_password, unquote(db.username or APP_DB_ROLE)
        )
    redis_password = stack_secrets.get("redis_password", "")
    if urlsplit(settings.redis_url).password is None and redis_password:
        changes["redis_url"] = _with_password(settings.redis_url, redis_password)
    return settings.replace(**changes) if changes else settings


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for banners and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_password(url, "***").replace(quote("***", safe=""), "***")


def env_name(field_name: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + field_name.upper()


def setting_names() -> set[str]:
    """Every ``CREWTRACK_*`` variable that a Settings field reads."""
    return {env_name(f.name) for f in dataclasses.fields(Settings)}


def _parse(name: str, default: Any, raw: str) -> Any:
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError as exc:
        kind = type(default).__name__
        raise SettingsError(f"{env_name(name)}={raw!r} is not a valid {kind}") from exc
    return raw


def settings_table() -> str:
    """Markdown table of every setting: variable, default, why."""
    rows = ["| variable | default | why |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = (
            ("true" if default else "false") if isinstance(default, bool) else default
        )
        rows.append(f"| `{env_name(f.name)}` | `{shown}` | {f.metadata['doc']} |")
    return "\n".join(rows)


if __name__ == "__main__":  # `python -m crewtrack.settings` prints the README table
    print(settings_table())
