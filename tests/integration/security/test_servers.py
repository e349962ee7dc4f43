"""The private servers of ``crewtrack up`` are locked down (issue 13, part 3).

Before: PostgreSQL trusted every local connection (any local user was database
superuser, enough to mint an admin token), Redis had no password (anyone could
read the live map), and the home's files were world-readable. Each test here
starts the servers the way ``up`` does (its home, its secrets, its settings)
and tries to get in without the credentials.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from crewtrack.runner import (
    Child,
    Secrets,
    _prepare_database,
    _print_banner,
    _stack_for,
    prepare_home,
)
from crewtrack.servers import (
    PG_BIN,
    MosquittoServer,
    PortAllocator,
    PostgresServer,
    RedisServer,
    Stack,
)
from crewtrack.settings import Settings

PLAIN_DB_URL = "postgresql://crewtrack@127.0.0.1:{port}/crewtrack"
PLAIN_REDIS_URL = "redis://127.0.0.1:{port}/0"


@dataclass
class UpLike:
    """The servers of one ``up`` home, started as ``up`` starts them."""

    home: Path
    settings: Settings
    secrets: Secrets
    stack: Stack
    plain: Settings  # what the user configured: URLs without passwords


@pytest.fixture(scope="module")
def up_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpLike]:
    home = tmp_path_factory.mktemp("up") / "home"
    ports = PortAllocator()
    plain = Settings(
        home=home,
        database_url=PLAIN_DB_URL.format(port=ports.free_port()),
        redis_url=PLAIN_REDIS_URL.format(port=ports.free_port()),
        mqtt_port=ports.free_port(),
        attachments_dir=home / "attachments",
        log_json=False,
    )
    settings, sec = prepare_home(plain)
    stack = _stack_for(settings, sec)
    stack.start()
    try:
        _prepare_database(stack, settings)
        child = Child(
            "hello",
            [sys.executable, "-c", "print('hello')"],
            {**os.environ, **settings.as_env()},
            home / "logs" / "hello.log",
        )
        child.start()
        child.wait(timeout=30)
        yield UpLike(home, settings, sec, stack, plain)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def _no_ambient_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the environment may supply a password behind our back."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGPASSFILE", raising=False)


def _connect(
    pg: PostgresServer, host: str, user: str, password: str | None = None
) -> psycopg.Connection[tuple[object, ...]]:
    extra = {} if password is None else {"password": password}
    return psycopg.connect(
        host=host,
        port=pg.port,
        user=user,
        dbname="postgres",
        passfile=str(pg.datadir.parent / "no-such-pgpass"),
        connect_timeout=5,
        **extra,
    )


def _ways_in(pg: PostgresServer) -> list[str]:
    return ["127.0.0.1", str(pg.socket_dir)]


@pytest.mark.parametrize("user", ["postgres", "crewtrack"])
def test_postgresql_refuses_a_connection_without_a_password_over_tcp_and_its_socket(
    up_home: UpLike, user: str
) -> None:
    for host in _ways_in(up_home.stack.pg):
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            _connect(up_home.stack.pg, host, user).close()


@pytest.mark.parametrize("user", ["postgres", "crewtrack"])
def test_postgresql_refuses_the_wrong_password(up_home: UpLike, user: str) -> None:
    for host in _ways_in(up_home.stack.pg):
        with pytest.raises(
            psycopg.OperationalError, match="password authentication failed"
        ):
            _connect(up_home.stack.pg, host, user, "not-the-password").close()


def test_the_app_role_logs_in_with_its_generated_password_and_is_not_superuser(
    up_home: UpLike,
) -> None:
    assert up_home.secrets.db_password in up_home.settings.database_url
    with psycopg.connect(up_home.settings.database_url) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == ("crewtrack", False)
    superuser = _connect(
        up_home.stack.pg, "127.0.0.1", "postgres", up_home.secrets.db_superuser_password
    )
    superuser.close()
    assert up_home.secrets.db_superuser_password != up_home.secrets.db_password


def test_redis_without_the_password_answers_noauth(up_home: UpLike) -> None:
    with socket.create_connection(("127.0.0.1", up_home.stack.redis.port), 5) as s:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nKEYS\r\n")
        answer = s.recv(256)
    assert answer.startswith(b"-NOAUTH"), answer
    with redis.Redis.from_url(up_home.settings.redis_url) as r:
        assert r.ping() is True
        assert r.get("k") is None


def test_redis_refuses_the_wrong_password(up_home: UpLike) -> None:
    wrong = f"redis://:not-the-password@127.0.0.1:{up_home.stack.redis.port}/0"
    with redis.Redis.from_url(wrong) as r, pytest.raises(redis.AuthenticationError):
        r.ping()


def test_no_server_password_is_on_a_command_line(up_home: UpLike) -> None:
    for server in (up_home.stack.pg, up_home.stack.redis):
        assert server.proc is not None
        argv = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().decode()
        for secret in _server_secrets(up_home.secrets):
            assert secret not in argv, server.name


def test_a_crewtrack_command_in_another_shell_uses_the_stack_passwords(
    up_home: UpLike,
) -> None:
    env = {
        **os.environ,
        "CREWTRACK_HOME": str(up_home.home),
        "CREWTRACK_DATABASE_URL": up_home.plain.database_url,
        "CREWTRACK_REDIS_URL": up_home.plain.redis_url,
    }
    out = subprocess.run(
        [sys.executable, "-m", "crewtrack", "admin", "list-devices"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    given = f"postgresql://crewtrack:given@127.0.0.1:{up_home.stack.pg.port}/crewtrack"
    out = subprocess.run(
        [sys.executable, "-m", "crewtrack", "admin", "list-devices"],
        env={**env, "CREWTRACK_DATABASE_URL": given},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1, "a password the user set must win"
    assert "password authentication failed" in out.stderr


def test_nothing_in_the_home_is_readable_by_group_or_others(up_home: UpLike) -> None:
    home = up_home.home
    expected = [
        "secrets.json",
        "redis/redis.conf",
        "redis/redis.log",
        "logs/hello.log",
        "pg/data",
        "pg/data/pg_hba.conf",
        "pg/data.log",
        "mosquitto/mosquitto.conf",
        "mosquitto/mosquitto.log",
        "attachments",
    ]
    for name in expected:
        assert (home / name).exists(), name
    checked = 0
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        where = f"{path.relative_to(home)}: {stat.filemode(mode)}"
        assert mode & 0o007 == 0, where
        if stat.S_ISDIR(mode):
            # The server's own user may pass through on the way to its data
            # (group search when running as root); nobody may list or write.
            assert mode & 0o060 == 0, where
        else:
            assert mode & 0o077 == 0, where
        checked += 1
    assert checked > 50


def test_no_password_is_printed_in_the_banner_or_any_log(
    up_home: UpLike, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_banner(up_home.settings, None, [], "http://127.0.0.1:1", [])
    banner = capsys.readouterr().out
    assert f"127.0.0.1:{up_home.stack.pg.port}/crewtrack" in banner
    logs = [p.read_text(errors="replace") for p in up_home.home.rglob("*.log")]
    assert len(logs) >= 4  # postgresql, redis, mosquitto, a child of `up`
    for secret in _server_secrets(up_home.secrets):
        assert secret not in banner
        for text in logs:
            assert secret not in text


def _server_secrets(sec: Secrets) -> list[str]:
    return [sec.db_superuser_password, sec.db_password, sec.redis_password]


def _old_trust_cluster(datadir: Path) -> None:
    """A cluster as `up` made it before passwords: initdb -A trust."""
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    datadir.mkdir(mode=0o700, parents=True)
    if as_root:  # the old code let the postgres user through every parent
        for path in datadir.parents:
            if not path.stat().st_mode & 0o001:
                path.chmod(path.stat().st_mode | 0o005)
        subprocess.run(["chown", "postgres:postgres", str(datadir)], check=True)
    initdb = [str(PG_BIN / "initdb"), "--no-sync", "-A", "trust", "-E", "UTF8"]
    subprocess.run(
        [*initdb, "--locale=C.UTF-8", "-U", "postgres", "-D", str(datadir)],
        user=user,
        group=user,
        extra_groups=[] if user else None,
        cwd=datadir,
        capture_output=True,
        check=True,
    )
    with (datadir / "postgresql.conf").open("a") as fh:
        fh.write(
            "\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{datadir.parent / 'data-socket'}'\n"
            "shared_preload_libraries = 'timescaledb'\n"
        )


def test_an_old_trust_cluster_is_upgraded_to_passwords_when_it_starts(
    tmp_path: Path,
) -> None:
    datadir = tmp_path / "pg" / "data"
    _old_trust_cluster(datadir)
    assert "trust" in (datadir / "pg_hba.conf").read_text()
    ports = PortAllocator()
    pg = PostgresServer(datadir, ports.free_port(), password="new-superuser-pw")
    assert not pg.passwords_only()
    pg.start()
    try:
        for host in _ways_in(pg):
            with pytest.raises(psycopg.OperationalError, match="no password supplied"):
                _connect(pg, host, "postgres").close()
            _connect(pg, host, "postgres", "new-superuser-pw").close()
        hba = (datadir / "pg_hba.conf").read_text()
        assert "trust" not in hba
        assert pg.passwords_only()
        # The app role of an old home had no password; `up` gives it one.
        pg.psql("CREATE ROLE crewtrack LOGIN")
        settings = Settings(
            database_url=f"postgresql://crewtrack:app-pw@127.0.0.1:{pg.port}/crewtrack",
            log_json=False,
        )
        unused = PortAllocator()
        stack = Stack(
            pg,
            RedisServer(tmp_path / "redis", unused.free_port()),
            MosquittoServer(tmp_path / "mqtt", unused.free_port()),
        )
        _prepare_database(stack, settings)
        with psycopg.connect(settings.database_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("crewtrack",)
    finally:
        pg.stop()
    # And it stays locked on the next start (no second upgrade needed).
    pg.start()
    try:
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            _connect(pg, "127.0.0.1", "postgres").close()
    finally:
        pg.stop()
