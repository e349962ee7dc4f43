"""Private PostgreSQL + TimescaleDB, Redis and Mosquitto instances.

``crewtrack up`` and the test harness both start their own servers with these
classes: data under a folder of ours, ports of our choosing, never the
machine's shared services. Each server runs in the foreground as a child in its
own process group, so ``stop()`` (graceful) and ``kill()`` (SIGKILL, for fault
tests) reach it and nothing it spawned outlives us.

Locked down (docs/operations.md, "Threat model"): PostgreSQL accepts SCRAM
passwords only (no ``trust``, also not on its socket), Redis requires a password
(from an owner-only config file, never argv), and every file and folder the
servers or we create is the owner's only (umask 077, logs 0600).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from ingest.broker_auth import BrokerAccount, broker_acl
from ingest.protocols.native import MAX_PACKET_BYTES

# re-exported: the stack's other secrets (runner, demo seed) write through it
from storage.private_files import write_private as write_private

PG_BIN = Path(os.environ.get("CREWTRACK_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT_S = 30.0  # initdb + start takes < 1 s here; 30 s covers a loaded CI box
STOP_TIMEOUT_S = 20.0


class ServerError(RuntimeError):
    """Raised when a server binary is missing or a server does not come up."""


def _require(binary: str | Path) -> str:
    """Return the binary's path, or fail with a message that says how to get it."""
    found = shutil.which(str(binary))
    if found is None:
        raise ServerError(
            f"{binary} not found: run `bash scripts/provision.sh` (or `make test`), "
            "which installs PostgreSQL 15, TimescaleDB, Redis and Mosquitto"
        )
    return found


# Ports handed out come from a block below the kernel's ephemeral range
# (32768-60999 on Linux), so no outgoing connection can take the port of a
# server that stopped to restart on it (fault tests do), and each process that
# hands out ports at once - a pytest-xdist worker - has its own block.
PORT_BLOCK_FIRST = 20_000
PORT_BLOCK_SIZE = 1_500
PORT_BLOCKS = 8  # 20000-31999: still below the ephemeral range


class PortAllocator:
    """Hand out free TCP ports on 127.0.0.1, never the same one twice.

    A bind test alone can return the same port for three servers started one
    after another, because none of them has bound it yet; so every allocator
    in the process walks one shared block and skips ports already given (and
    any a bind test finds taken), wrapping around only after the whole block.
    """

    _lock = threading.Lock()
    _block = 0
    _next = [0] * PORT_BLOCKS  # per block: the offset of the next port to try

    @classmethod
    def use_block(cls, index: int) -> int:
        """Take ports from block ``index`` (0..PORT_BLOCKS-1); return the old one."""
        if not 0 <= index < PORT_BLOCKS:
            raise ValueError(f"port block {index} is not in 0..{PORT_BLOCKS - 1}")
        with cls._lock:
            old, cls._block = cls._block, index
        return old

    def free_port(self) -> int:
        cls = type(self)
        with cls._lock:
            first = PORT_BLOCK_FIRST + cls._block * PORT_BLOCK_SIZE
            for _ in range(PORT_BLOCK_SIZE):
                port = first + cls._next[cls._block]
                cls._next[cls._block] = (cls._next[cls._block] + 1) % PORT_BLOCK_SIZE
                if _bindable(port):
                    return port
        raise ServerError(f"no free port in {first}-{first + PORT_BLOCK_SIZE - 1}")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _chown_file(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _make_traversable(path: Path, user: str) -> None:
    """Let a server that runs as ``user`` reach ``path``, and nobody else.

    A private folder of ours on the way (mode 0700, like the home) is given to
    the server's group with search permission only (0710): it can pass through,
    not list. Anything else without search for others gets o+x, never o+r.
    """
    gid = pwd.getpwnam(user).pw_gid
    for parent in [path, *path.parents]:
        if str(parent) in ("/", ""):
            break
        st = parent.stat()
        if st.st_mode & 0o001 or (st.st_gid == gid and st.st_mode & 0o010):
            continue
        with contextlib.suppress(PermissionError):
            if st.st_uid == os.geteuid() and not st.st_mode & 0o077:
                os.chown(parent, -1, gid)
                parent.chmod((st.st_mode & 0o7777) | 0o010)
            else:
                parent.chmod((st.st_mode & 0o7777) | 0o001)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing and make it the owner's only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_private_log(path: Path) -> int:
    """Open ``path`` for appending, owner-only (0600) even if it existed before."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def new_password() -> str:
    """A generated server password: URL- and config-safe, 144 random bits."""
    return secrets.token_urlsafe(18)


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (RFC 5802/7677).

    ``ALTER ROLE … PASSWORD '<verifier>'`` stores it as is, so the plain
    password never reaches the server, its logs or ``pg_stat_activity``.
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    stored_key = hashlib.sha256(client_key).digest()
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class _Process:
    """A server process in its own process group."""

    name = "server"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: Sequence[str], user: str | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open_private_log(self.log_path)
        # Switching user in the child (not through runuser) keeps the server our
        # direct child, so wait() sees it exit and a restart never races it.
        # umask 077: whatever the server writes is its owner's only.
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                umask=0o077,
            )
        finally:
            os.close(log)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(
                self.log_path.read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"

    def _wait_ready(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self.proc.returncode} while starting:\n"
                    + self._log_tail()
                )
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not become ready:\n" + self._log_tail())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop gracefully; SIGKILL after a timeout."""
        if self.proc is None:
            return
        self._signal(sig)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the server (fault tests): no shutdown, no flush."""
        self.stop(signal.SIGKILL)


# Only password (SCRAM) logins, for every user and every way in: no `trust`,
# no `peer` (root or the postgres OS user would otherwise skip the password).
PG_HBA = """\
# crewtrack: SCRAM passwords only, on the socket and on loopback TCP.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""
PG_AUTH_CONF = [
    "password_encryption = 'scram-sha-256'",
    "unix_socket_permissions = 0700",
    # a client gone in the middle of its SCRAM exchange holds a backend (and
    # blocks DROP DATABASE … FORCE) until this runs out; the default is 1 min
    "authentication_timeout = 10s",
]


class PostgresServer(_Process):
    """A private PostgreSQL 15 cluster with TimescaleDB preloaded.

    The superuser ``postgres`` logs in with ``password`` (generated when not
    given; ``crewtrack up`` keeps it in the home's secrets file). A cluster
    made before passwords (``trust``) is upgraded when it starts.
    """

    name = "postgresql"

    def __init__(
        self, datadir: Path, port: int, *, password: str = "", for_tests: bool = False
    ) -> None:
        super().__init__(datadir.parent / f"{datadir.name}.log")
        self.datadir = datadir
        self.port = port
        self.password = password or new_password()
        self.for_tests = for_tests
        self.socket_dir = datadir.parent / f"{datadir.name}-socket"

    def dsn(self, dbname: str = "postgres") -> str:
        """The superuser's URL, password included: never print or log it."""
        return (
            f"postgresql://postgres:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{dbname}"
        )

    @property
    def _server_user(self) -> str | None:
        """PostgreSQL refuses to run as root: switch to its own user then."""
        return "postgres" if _running_as_root() else None

    def _run_as_server(
        self, argv: Sequence[str], stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        user = self._server_user
        return subprocess.run(
            list(argv),
            input=stdin,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd=self.datadir,
            umask=0o077,
            capture_output=True,
            text=True,
            check=False,
        )

    def init(self) -> None:
        """Create the cluster once (kept between runs)."""
        initdb = PG_BIN / "initdb"
        if not initdb.exists():
            _require(initdb)
        if not (PG_BIN / "postgres").exists():
            _require(PG_BIN / "postgres")
        control = Path("/usr/share/postgresql/15/extension/timescaledb.control")
        if not control.exists():
            raise ServerError(
                "TimescaleDB is not installed (no timescaledb.control): run "
                "`bash scripts/provision.sh`, which builds it from Debian's source package"
            )
        if (self.datadir / "PG_VERSION").exists():
            return
        self._private_parent()
        private_dir(self.datadir)
        if _running_as_root():
            _chown_tree(self.datadir, "postgres")
        # The superuser's password reaches initdb through a private file that
        # only lives while initdb runs (argv would show it in `ps`).
        pwfile = self.datadir.parent / f"{self.datadir.name}.pwfile"
        write_private(pwfile, self.password + "\n")
        if _running_as_root():
            _chown_file(pwfile, "postgres")
        initdb_argv = [str(initdb), "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
        initdb_argv += ["--auth-local=scram-sha-256", "--auth-host=scram-sha-256"]
        initdb_argv += [f"--pwfile={pwfile}", "-U", "postgres", "-D", str(self.datadir)]
        try:
            result = self._run_as_server(initdb_argv)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "shared_preload_libraries = 'timescaledb'",
            "timescaledb.telemetry_level = off",
            "max_connections = 200",
            "log_min_messages = warning",
            *PG_AUTH_CONF,
        ]
        if self.for_tests:
            # Test data is thrown away, so skip fsync (a killed server's writes
            # still sit in the OS cache). Commits stay synchronous: fault tests
            # SIGKILL the server and rely on "committed means kept".
            conf += ["fsync = off", "full_page_writes = off"]
            # each test drops its database: an abandoned login must not hold it
            conf += ["authentication_timeout = 2s"]
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write("\n# crewtrack\n" + "\n".join(conf) + "\n")
        (self.datadir / "pg_hba.conf").write_text(PG_HBA)

    def passwords_only(self) -> bool:
        """Whether every pg_hba.conf rule asks for a SCRAM password."""
        rules = [
            line.split()
            for line in (self.datadir / "pg_hba.conf").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        return all("scram-sha-256" in fields for fields in rules)

    def lock_down(self) -> None:
        """Upgrade a cluster made before passwords (``trust``): give the superuser
        ``password`` and allow SCRAM logins only.

        The password is set in single-user mode (no network, no other session),
        as a SCRAM verifier: the plain password never reaches the server.
        """
        statement = f"ALTER ROLE postgres PASSWORD '{scram_verifier(self.password)}'\n"
        single = [str(PG_BIN / "postgres"), "--single", "-D", str(self.datadir)]
        result = self._run_as_server([*single, "postgres"], stdin=statement)
        if result.returncode != 0 or "ERROR" in result.stderr:
            raise ServerError(
                f"could not set the superuser password of {self.datadir}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        conf_path = self.datadir / "postgresql.conf"
        conf = conf_path.read_text()
        missing = [line for line in PG_AUTH_CONF if line not in conf]
        if missing:
            with conf_path.open("a") as fh:
                fh.write("\n# crewtrack: passwords only\n" + "\n".join(missing) + "\n")
        write_private(self.datadir / "pg_hba.conf", PG_HBA)
        if _running_as_root():
            _chown_file(self.datadir / "pg_hba.conf", "postgres")

    def _private_parent(self) -> None:
        """The folder of the cluster, its log and socket: ours only, but
        passable for the server's user when we are root."""
        private_dir(self.datadir.parent)
        if _running_as_root():
            _make_traversable(self.datadir.parent, "postgres")

    def start(self) -> None:
        self.init()
        self._private_parent()  # also an older home's folders (0755 then)
        if not self.passwords_only():
            self.lock_down()
        private_dir(self.socket_dir)
        if _running_as_root():
            _chown_tree(self.socket_dir, "postgres")
        self._spawn(
            [str(PG_BIN / "postgres"), "-D", str(self.datadir), "-p", str(self.port)],
            user=self._server_user,
        )
        self._wait_ready(self._is_ready)

    def _is_ready(self) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def stop(self, sig: signal.Signals = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown: roll back clients, stop cleanly."""
        super().stop(sig)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run ``sql`` as the superuser (the password goes through the
        environment, not argv)."""
        result = subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}",
                "-c",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"psql failed: {result.stderr.strip()}")
        return result.stdout


def _resp(*args: str) -> bytes:
    """A Redis command in RESP (binary-safe, unlike inline commands)."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        raw = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def _redis_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RedisServer(_Process):
    """A private Redis; ``persist`` keeps an append-only file in ``datadir``.

    Clients authenticate with ``password`` (generated when not given), which
    sits in an owner-only ``redis.conf``, not in argv where ``ps`` shows it.
    """

    name = "redis"

    def __init__(
        self, datadir: Path, port: int, *, password: str = "", persist: bool = True
    ) -> None:
        super().__init__(datadir / "redis.log")
        self.datadir = datadir
        self.port = port
        self.password = password or new_password()
        self.persist = persist
        self.conf_file = datadir / "redis.conf"

    @property
    def url(self) -> str:
        """The URL with the password: never print or log it."""
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = _require("redis-server")
        private_dir(self.datadir)
        conf = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {_redis_quote(str(self.datadir))}",
            'save ""',
            f"appendonly {'yes' if self.persist else 'no'}",
            "daemonize no",
            "protected-mode yes",
            f"requirepass {_redis_quote(self.password)}",
        ]
        write_private(self.conf_file, "\n".join(conf) + "\n")
        self._spawn([binary, str(self.conf_file)])
        self._wait_ready(self._is_ready)

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(_resp("AUTH", self.password) + _resp("PING"))
                answer = b""
                while b"\r\n" not in answer.partition(b"\r\n")[2]:
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    answer += chunk
                return answer.startswith(b"+OK\r\n+PONG")
        except OSError:
            return False


# Broker limits (deploy/mosquitto/mosquitto.conf repeats them; a test checks):
# - max_packet_size: the device protocol's size limit on the whole packet, so an
#   oversized PUBLISH is refused (the sender disconnected, "Packet too large" on
#   MQTT 5) before any PUBACK, and never PUBACKed and then rejected by us;
# - max_keepalive: an MQTT 5 client asking for none or more is told this one
#   (Server Keep Alive). A client silent for 1.5 x its keepalive is dropped.
#   3600 s leaves room for phones that ping rarely to save battery.
#   (A connection that never sends CONNECT is dropped after 90 s by Mosquitto.)
# - max_connections: a flood of connections cannot exhaust the broker's sockets.
MQTT_MAX_KEEPALIVE_S = 3600
MQTT_MAX_CONNECTIONS = 10_000


def mosquitto_limits(max_connections: int = MQTT_MAX_CONNECTIONS) -> list[str]:
    """The limit lines of our Mosquitto config (after the ``listener`` line)."""
    return [
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"max_keepalive {MQTT_MAX_KEEPALIVE_S}",
        f"max_connections {max_connections}",
    ]


# How Mosquitto saves what it PUBACKed (docs/operations.md "Durability",
# measured by bench/broker_durability.py): it has no write-ahead log, only a
# snapshot of its whole in-memory database every ``autosave_interval`` seconds
# (in whole seconds, strictly after: 1 means every 1-2 s) and on a clean stop;
# a SIGKILL loses whatever arrived since the last snapshot. At 1 s it lost
# 0.8 s of a 750 msg/s stream at no measurable throughput cost (0.96 of the
# raw default with 100,000 messages queued); Mosquitto's default (1800 s) and
# our old 10 s lost the whole 10 s stream. Saving on changes narrows the window
# but costs a full snapshot per N messages - 0.39 of the throughput at N = 1000
# and 0.06 at N = 100 with that backlog. deploy/mosquitto/mosquitto.conf
# carries the same lines; native phones lose nothing either way (end-to-end ack).
MOSQUITTO_DURABILITY = ("autosave_on_changes false", "autosave_interval 1")


class MosquittoServer(_Process):
    """A private Mosquitto 2 with persistence, password file and ACL."""

    name = "mosquitto"

    # The ingest acks only after the commit, so the broker must let a whole
    # batch be in flight (0 = no limit) and queue far more than its default of
    # 1000 messages per session while a worker is down.
    MAX_QUEUED_MESSAGES = 1_000_000

    def __init__(
        self,
        datadir: Path,
        port: int,
        *,
        max_connections: int = MQTT_MAX_CONNECTIONS,
        durability: Sequence[str] = MOSQUITTO_DURABILITY,
    ) -> None:
        super().__init__(datadir / "mosquitto.log")
        self.datadir = datadir
        self.port = port
        self.max_connections = max_connections
        self.durability = tuple(durability)  # the autosave lines (benchmarks vary them)
        self.passwd_file = datadir / "passwd"
        self.acl_file = datadir / "acl"
        self.conf_file = datadir / "mosquitto.conf"

    def write_accounts(self, accounts: Iterable[BrokerAccount]) -> None:
        """Write the password file and ACL; ``reload()`` makes a running broker read them."""
        accounts = list(accounts)
        write_private(
            self.passwd_file,
            "".join(f"{a.username}:{a.password_hash}\n" for a in accounts),
        )
        write_private(
            self.acl_file, broker_acl(a.username for a in accounts if a.service)
        )

    def start(self) -> None:
        binary = _require("mosquitto")
        private_dir(self.datadir)
        if not self.passwd_file.exists():
            self.write_accounts([])
        conf = [
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {self.passwd_file}",
            f"acl_file {self.acl_file}",
            "persistence true",
            f"persistence_location {self.datadir}/",
            *self.durability,
            f"max_queued_messages {self.MAX_QUEUED_MESSAGES}",
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            *mosquitto_limits(self.max_connections),
            # its own file writer flushes every line (stdout into our log file
            # is block-buffered: connections showed only when it stopped)
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if _running_as_root():
            conf.insert(0, "user root")  # keep write access to the persistence folder
        write_private(self.conf_file, "\n".join(conf) + "\n")
        self._spawn([binary, "-c", str(self.conf_file)])
        self._wait_ready(lambda: port_is_open(self.port))

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads the password file and ACL without a restart."""
        self._signal(signal.SIGHUP)


class Stack:
    """PostgreSQL, Redis and Mosquitto started together; all or none.

    If one server fails to start, the ones already started are stopped again.
    """

    def __init__(
        self, pg: PostgresServer, redis: RedisServer, mqtt: MosquittoServer
    ) -> None:
        self.pg = pg
        self.redis = redis
        self.mqtt = mqtt

    @property
    def servers(self) -> tuple[_Process, ...]:
        return (self.pg, self.redis, self.mqtt)

    def start(self) -> None:
        started: list[_Process] = []
        try:
            for server in self.servers:
                server.start()  # type: ignore[attr-defined]
                started.append(server)
        except BaseException:
            for server in reversed(started):
                server.stop()
            raise

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
