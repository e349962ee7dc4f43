"""Benchmark: evidence-log append throughput against a raw COPY of the same fixes.

Run ``python bench/evidence.py [n_fixes]`` (default 200,000). Starts a private
PostgreSQL+TimescaleDB, then times, in the same run:

* baseline: a bare ``COPY`` of ``n`` fixes into ``fixes`` (what the ingest writes);
* append: ``storage.evidence_log.append_pending`` logging those ``n`` fixes
  (read back, canonical JSON, leaf hashes, insert into ``evidence_leaves``);
* checkpoint: ``sign_checkpoint`` over the whole tree (root + Ed25519).

Prints rows/s for each and the ratio append/baseline.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crewtrack.servers import PortAllocator, PostgresServer
from storage import evidence_log
from storage.migrate import migrate

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def main(n: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="crewtrack-bench-evidence-"))
    pg = PostgresServer(tmp / "pg", PortAllocator().free_port(), for_tests=True)
    pg.start()
    try:
        pg.psql("CREATE DATABASE bench")
        migrate(pg.dsn("bench"))
        with psycopg.connect(pg.dsn("bench"), autocommit=True) as conn:
            received = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            rows = [
                (
                    T0 + dt.timedelta(seconds=i),
                    f"d{i % 50}",
                    48.1 + i * 1e-7,
                    11.5,
                    8.0,
                    received,
                    b"\x01" * 32,
                )
                for i in range(n)
            ]
            start = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY fixes (time, device_id, lat, lon, accuracy, received_at, "
                    "message_sha256) FROM STDIN"
                ) as copy,
            ):
                for r in rows:
                    copy.write_row(r)
            raw = time.perf_counter() - start
            start = time.perf_counter()
            appended = evidence_log.append_pending(conn)
            append = time.perf_counter() - start
            assert appended == n, appended
            start = time.perf_counter()
            cp = evidence_log.sign_checkpoint(conn, Ed25519PrivateKey.generate())
            sign = time.perf_counter() - start
            assert cp is not None
        print(f"fixes: {n}")
        print(f"baseline COPY into fixes: {n / raw:,.0f} rows/s ({raw:.2f} s)")
        print(f"evidence append:          {n / append:,.0f} rows/s ({append:.2f} s)")
        print(f"checkpoint over {n} leaves: {sign * 1000:.0f} ms")
        print(f"ratio append/COPY: {raw / append:.2f}")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
