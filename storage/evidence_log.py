"""The evidence log in PostgreSQL: leaves, signed checkpoints, and the audit.

What is logged (``KINDS``): every ingested message's provenance (the sha256 of
its exact bytes), every fix, every device event, every visit-record version and
every issued invoice. A leaf is the RFC 6962 leaf hash of the row's canonical
bytes (:func:`canonical`: sorted-key compact JSON of the row's immutable
columns, with its kind and ref), so anyone holding the bytes can recompute it
and check it against a signed root (core.merkle).

:func:`append_pending` appends rows received since each kind's watermark, in
order, under an advisory lock (one appender at a time, any number of notaries
may run); it rescans an overlap behind the watermark so a transaction that
committed late is still appended, and never appends a row twice (kind + ref is
unique). :func:`sign_checkpoint` signs (tree size, root) with an Ed25519 key
that is not in the database. :func:`audit` recomputes every logged row and
reports a changed, deleted or inserted one, and checks the tree against every
signed checkpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core import merkle
from storage.fixes import EPOCH, FIX_COLUMNS, MESSAGE_COLUMNS

LOCK_KEY = 0x65766C6F67  # "evlog": one appender at a time
#: Rows this recent are left for the next pass (their transaction may be open).
LAG = dt.timedelta(seconds=2)
#: How far behind the watermark each pass looks again for late commits.
OVERLAP = dt.timedelta(minutes=5)
STATEMENT_PREFIX = b"crewtrack evidence checkpoint v1\n"


@dataclass(frozen=True)
class Kind:
    """One kind of logged row: how to read it, name it and date it."""

    name: str
    table: str
    #: The column the watermark follows (receive, derive or issue time).
    clock: str
    #: SQL for the ref (unique per row of the kind).
    ref: str
    #: The immutable columns hashed, in the order selected.
    columns: tuple[str, ...]
    where: str = "TRUE"


KINDS: tuple[Kind, ...] = (
    Kind(
        "message",
        "ingest_messages",
        "received_at",
        "device_id || ':' || encode(payload_sha256, 'hex')",
        MESSAGE_COLUMNS,
    ),
    Kind(
        "fix",
        "fixes",
        "received_at",
        "device_id || '@' || to_char(time AT TIME ZONE 'UTC', "
        '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')',
        FIX_COLUMNS,
    ),
    Kind(
        "event",
        "device_events",
        "received_at",
        "device_id || ':' || event_id",
        (
            "device_id",
            "event_id",
            "type",
            "time",
            "job_id",
            "lat",
            "lon",
            "accuracy",
            "received_at",
            "message_sha256",
        ),
    ),
    Kind(
        "visit",
        "visit_derivations",
        "derived_at",
        "id::text",
        (
            "id",
            "session_id",
            "version",
            "derived_at",
            "params_digest",
            "params",
            "fence_digest",
            "fence",
            "input_digest",
            "fix_count",
            "window_start",
            "window_end",
            "session_state",
            "visits",
            "reconciliation",
        ),
    ),
    Kind(
        "invoice",
        "invoices",
        "issued_at",
        "id::text",
        (
            "id",
            "kind",
            "job_id",
            "client_id",
            "client_name",
            "currency",
            "year",
            "seq",
            "lines",
            "net",
            "tax",
            "gross",
            "credits_invoice_id",
            "issued_at",
        ),
        where="issued_at IS NOT NULL",
    ),
)
KIND_BY_NAME = {k.name: k for k in KINDS}


def _plain(value: Any) -> Any:
    """A column value as JSON: UTC ISO times, hex bytes, decimals as text."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # uuid


def canonical(kind: str, ref: str, row: dict[str, Any]) -> bytes:
    """The exact bytes a leaf hashes: compact, sorted-key JSON of the row."""
    doc = {"kind": kind, "ref": ref, "row": _plain(row)}
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()


def _select(kind: Kind, where: str) -> str:
    cols = ", ".join(kind.columns)
    return (
        f"SELECT {kind.ref} AS ref, {kind.clock} AS clock, {cols} "
        f"FROM {kind.table} WHERE ({kind.where}) AND ({where})"
    )


def _rows(
    conn: psycopg.Connection, kind: Kind, where: str, params: Sequence[Any]
) -> Iterator[tuple[str, dt.datetime, bytes]]:
    """(ref, clock, canonical bytes) of the kind's rows matching ``where``."""
    with conn.cursor() as cur:
        cur.execute(_select(kind, where), params)
        for rec in cur:
            ref, clock = rec[0], rec[1]
            row = dict(zip(kind.columns, rec[2:], strict=True))
            yield ref, clock, canonical(kind.name, ref, row)


# ----------------------------------------------------------------- appending


def append_pending(conn: psycopg.Connection, now: dt.datetime | None = None) -> int:
    """Append every row of every kind received since its watermark; return how many.

    Runs in its own transaction holding the log's advisory lock.
    """
    appended = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if now is None:
            got = conn.execute("SELECT now()").fetchone()
            assert got is not None
            now = got[0]
        upper = now - LAG
        seq_row = conn.execute(
            "SELECT coalesce(max(seq) + 1, 0) FROM evidence_leaves"
        ).fetchone()
        assert seq_row is not None
        seq: int = seq_row[0]
        marks: dict[str, dt.datetime] = dict(
            conn.execute("SELECT kind, upto FROM evidence_watermarks").fetchall()
        )
        for kind in KINDS:
            lower = marks.get(kind.name, EPOCH) - OVERLAP
            new = [
                (clock, ref, merkle.leaf_hash(data))
                for ref, clock, data in _rows(
                    conn,
                    kind,
                    f"{kind.clock} >= %s AND {kind.clock} < %s AND NOT EXISTS "
                    "(SELECT 1 FROM evidence_leaves l WHERE l.kind = %s "
                    f"AND l.ref = {kind.ref})",
                    (lower, upper, kind.name),
                )
            ]
            new.sort()
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO evidence_leaves (seq, kind, ref, leaf_hash) "
                    "VALUES (%s, %s, %s, %s)",
                    [(seq + i, kind.name, ref, h) for i, (_, ref, h) in enumerate(new)],
                )
            seq += len(new)
            appended += len(new)
            conn.execute(
                "INSERT INTO evidence_watermarks (kind, upto) VALUES (%s, %s) "
                "ON CONFLICT (kind) DO UPDATE SET upto = "
                "greatest(evidence_watermarks.upto, excluded.upto)",
                (kind.name, upper),
            )
    return appended


def leaf_hashes(conn: psycopg.Connection, size: int | None = None) -> list[bytes]:
    """The tree's leaf hashes in order (the first ``size`` of them)."""
    rows = conn.execute(
        "SELECT leaf_hash FROM evidence_leaves WHERE seq < %s ORDER BY seq",
        (size if size is not None else 2**62,),
    ).fetchall()
    return [bytes(r[0]) for r in rows]


# ---------------------------------------------------------------- checkpoints


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of its sha256."""
    raw = public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def statement(tree_size: int, root: bytes, signed_at: str, kid: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return (
        STATEMENT_PREFIX + f"{tree_size}\n{root.hex()}\n{signed_at}\n{kid}\n".encode()
    )


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root: bytes
    signed_at: str  # ISO 8601 UTC, exactly as signed
    signature: bytes
    key_id: str

    def statement(self) -> bytes:
        return statement(self.tree_size, self.root, self.signed_at, self.key_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "signed_at": self.signed_at,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "statement": self.statement().decode(),
        }


def _checkpoint(row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(
        int(row[0]),
        bytes(row[1]),
        _plain(row[2]),
        bytes(row[3]),
        str(row[4]),
    )


def sign_checkpoint(
    conn: psycopg.Connection, key: Ed25519PrivateKey, *, force: bool = False
) -> Checkpoint | None:
    """Sign the tree as it is now; None when it has not grown since the last one
    (unless ``force``)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        leaves = leaf_hashes(conn)
        last = latest_checkpoint(conn)
        if last is not None and last.tree_size == len(leaves) and not force:
            return None
        if last is not None and last.tree_size == len(leaves):
            return last
        got = conn.execute("SELECT now()").fetchone()
        assert got is not None
        signed_at = _plain(got[0])
        kid = key_id(key.public_key())
        top = merkle.root(leaves)
        sig = key.sign(statement(len(leaves), top, signed_at, kid))
        conn.execute(
            "INSERT INTO evidence_checkpoints "
            "(tree_size, root, signed_at, signature, key_id) VALUES (%s, %s, %s, %s, %s)",
            (len(leaves), top, got[0], sig, kid),
        )
        return Checkpoint(len(leaves), top, signed_at, sig, kid)


def latest_checkpoint(conn: psycopg.Connection) -> Checkpoint | None:
    row = conn.execute(
        "SELECT tree_size, root, signed_at, signature, key_id "
        "FROM evidence_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    return _checkpoint(row) if row is not None else None


def checkpoints(conn: psycopg.Connection) -> list[Checkpoint]:
    rows = conn.execute(
        "SELECT tree_size, root, signed_at, signature, key_id "
        "FROM evidence_checkpoints ORDER BY tree_size"
    ).fetchall()
    return [_checkpoint(r) for r in rows]


# -------------------------------------------------------------------- items


@dataclass(frozen=True)
class Item:
    """One logged row as proven: its leaf index, canonical bytes and current state."""

    seq: int
    kind: str
    ref: str
    data: bytes
    #: The leaf hash stored in the log (equal to leaf_hash(data) unless changed).
    logged: bytes


def items(
    conn: psycopg.Connection, kind: str, where: str, params: Sequence[Any]
) -> list[Item]:
    """The logged rows of ``kind`` matching ``where`` (rows not logged yet are
    left out), each with the bytes read from its table now."""
    k = KIND_BY_NAME[kind]
    found = list(_rows(conn, k, where, params))
    if not found:
        return []
    logged = {
        ref: (int(seq), bytes(h))
        for seq, ref, h in conn.execute(
            "SELECT seq, ref, leaf_hash FROM evidence_leaves "
            "WHERE kind = %s AND ref = ANY(%s)",
            (kind, [ref for ref, _, _ in found]),
        ).fetchall()
    }
    return [
        Item(logged[ref][0], kind, ref, data, logged[ref][1])
        for ref, _, data in found
        if ref in logged
    ]


# -------------------------------------------------------------------- audit


@dataclass
class AuditReport:
    """What ``crewtrack evidence audit`` found; empty lists mean all is well."""

    leaves: int = 0
    rows: int = 0
    changed: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    inserted: list[tuple[str, str]] = field(default_factory=list)
    checkpoint_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.changed or self.deleted or self.inserted or self.checkpoint_problems
        )


def audit(
    conn: psycopg.Connection, public: Ed25519PublicKey | None = None
) -> AuditReport:
    """Re-hash every logged kind of row against the log, and the log against
    every signed checkpoint (signatures checked with ``public`` when given)."""
    report = AuditReport()
    marks: dict[str, dt.datetime] = dict(
        conn.execute("SELECT kind, upto FROM evidence_watermarks").fetchall()
    )
    for kind in KINDS:
        logged = {
            ref: bytes(h)
            for ref, h in conn.execute(
                "SELECT ref, leaf_hash FROM evidence_leaves WHERE kind = %s",
                (kind.name,),
            ).fetchall()
        }
        upto = marks.get(kind.name)
        seen: set[str] = set()
        for ref, clock, data in _rows(conn, kind, "TRUE", ()):
            report.rows += 1
            seen.add(ref)
            h = logged.get(ref)
            if h is None:
                # a row from before the watermark that was never appended
                if upto is not None and clock < upto - OVERLAP:
                    report.inserted.append((kind.name, ref))
            elif h != merkle.leaf_hash(data):
                report.changed.append((kind.name, ref))
        report.deleted.extend((kind.name, r) for r in logged if r not in seen)
    leaves = leaf_hashes(conn)
    report.leaves = len(leaves)
    cps = checkpoints(conn)
    roots = merkle.roots_at(leaves, [c.tree_size for c in cps])
    for c in cps:
        if roots.get(c.tree_size) != c.root:
            report.checkpoint_problems.append(
                f"the log's first {c.tree_size} leaves no longer have the root "
                f"signed at {c.signed_at}"
            )
        if public is not None:
            try:
                public.verify(c.signature, c.statement())
                signed = c.key_id == key_id(public)
            except InvalidSignature:
                signed = False
            if not signed:
                report.checkpoint_problems.append(
                    f"the checkpoint of size {c.tree_size} ({c.signed_at}) is not "
                    "signed by the given key"
                )
    return report
