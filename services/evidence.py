"""Evidence bundles: export a session's proven records, verify a bundle offline.

One bundle, whoever asks for it: ``crewtrack evidence export`` (the CLI), the
API's ``GET /sessions/{id}/evidence.zip`` and the audit page's download all call
:func:`export_session` with the server's key (:func:`signing_key`) and the audit
page's PDF and CSV (a :data:`Presenter`, wired by the composition root or, in
the dashboard, the audit page itself).

A bundle is a zip (stored, not compressed, with fixed member order and times,
so the verifier can rebuild it byte for byte) holding:

- ``items.jsonl``: every logged row of the session (messages, fixes, events,
  visit-record versions, invoices), one per line, as the exact bytes hashed;
- ``proofs.json``: each line's leaf index and RFC 6962 inclusion proof against
- ``checkpoint.json``: a tree head (size, root) signed with the server's key;
- ``public_key.pem``: that key;
- ``report.pdf``, ``fixes.csv``, ``visit_records.json``: the audit as people read it;
- ``README.txt``: how to verify by hand;
- ``manifest.json`` (the sha256 of every other member) and ``manifest.sig``
  (Ed25519 over the manifest), so a change to any member is found.

:func:`verify` needs nothing but the bundle (and, better, a pinned key) and
returns what fails, in words. docs/evidence.md says what this does and does not
prove.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core import merkle
from crewtrack.settings import SECRETS_FILE
from jobs_domain.actors import Role
from storage import evidence_log as log
from storage.private_files import write_private

KEY_FIELD = "evidence_signing_key"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SESSION_MARGIN = dt.timedelta(hours=2)
SIGNED_MEMBERS = (
    "README.txt",
    "checkpoint.json",
    "fixes.csv",
    "items.jsonl",
    "proofs.json",
    "public_key.pem",
    "report.pdf",
    "visit_records.json",
)
MEMBERS = (*SIGNED_MEMBERS, "manifest.json", "manifest.sig")


#: Who may take a session's evidence bundle (the API and the audit page): the
#: people who settle a billing dispute.
EVIDENCE_ROLES = (Role.BILLING, Role.ADMIN)


class EvidenceError(Exception):
    """An export that cannot be made (a row changed since logged, nothing logged)."""


class NoSuchSession(EvidenceError):
    """The session to export does not exist."""


# ---------------------------------------------------------------------- key


def new_key_text() -> str:
    """A fresh Ed25519 private key as the secrets file keeps it (base64, raw)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode()


def signing_key(home: Path) -> Ed25519PrivateKey:
    """The server's evidence key from the home's secrets file (0600, outside the
    database); created there on first use."""
    path = home / SECRETS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    text = stored.get(KEY_FIELD)
    if not text:
        text = stored[KEY_FIELD] = new_key_text()
        write_private(path, json.dumps(stored, indent=2))
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))


def load_public(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


# ------------------------------------------------------------------- export


@dataclass(frozen=True)
class Presentation:
    """What people read: the PDF, the fixes CSV (built by the dashboard's audit)."""

    pdf: bytes
    csv: str


#: Builds a session's :class:`Presentation` (raises :class:`NoSuchSession`).
Presenter = Callable[[UUID], Presentation]


def bundle_name(session_id: UUID) -> str:
    """The file name a bundle is offered under."""
    return f"crewtrack-evidence-{session_id}.zip"


def session_items(conn: psycopg.Connection, session_id: UUID) -> list[log.Item]:
    """Every logged row behind a session: its visit-record versions, the device's
    fixes and events over the records' window and the messages that carried
    them, and the job's issued invoices."""
    row = conn.execute(
        "SELECT job_id, device_id, clocked_in_at, clocked_out_at "
        "FROM job_sessions WHERE id = %s",
        (session_id,),
    ).fetchone()
    if row is None:
        raise NoSuchSession(f"no job session {session_id}")
    job_id, device, cin, cout = row
    span = conn.execute(
        "SELECT min(window_start), max(window_end) FROM visit_derivations "
        "WHERE session_id = %s",
        (session_id,),
    ).fetchone()
    assert span is not None
    start = span[0] or cin - SESSION_MARGIN
    end = span[1] or (cout or dt.datetime.now(dt.UTC)) + SESSION_MARGIN
    window = (device, start, end)
    found = [
        *log.items(conn, "visit", "session_id = %s", (session_id,)),
        *log.items(
            conn,
            "message",
            "device_id = %s AND payload_sha256 IN (SELECT message_sha256 FROM fixes "
            "WHERE device_id = %s AND time BETWEEN %s AND %s UNION "
            "SELECT message_sha256 FROM device_events "
            "WHERE device_id = %s AND time BETWEEN %s AND %s)",
            (device, *window, *window),
        ),
        *log.items(conn, "fix", "device_id = %s AND time BETWEEN %s AND %s", window),
        *log.items(conn, "event", "device_id = %s AND time BETWEEN %s AND %s", window),
        *log.items(conn, "invoice", "job_id = %s", (job_id,)),
    ]
    changed = [
        f"{i.kind} {i.ref}" for i in found if merkle.leaf_hash(i.data) != i.logged
    ]
    if changed:
        raise EvidenceError(
            "rows changed since they were logged (run `crewtrack evidence audit`): "
            + ", ".join(changed[:5])
        )
    return sorted(found, key=lambda i: i.seq)


def _zip(members: dict[str, bytes]) -> bytes:
    """The canonical zip of ``members`` (fixed order, times and modes, stored)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name in MEMBERS:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, members[name])
    return out.getvalue()


def build_bundle(
    found: Sequence[log.Item],
    tree: merkle.Tree,
    checkpoint: log.Checkpoint,
    key: Ed25519PrivateKey,
    shown: Presentation,
    session_id: UUID,
) -> bytes:
    """The bundle of ``found`` proven against ``checkpoint`` (signed by ``key``)."""
    assert tree.size == checkpoint.tree_size
    assert tree.root == checkpoint.root
    lines = b"".join(i.data + b"\n" for i in found)
    proofs = {
        "tree_size": checkpoint.tree_size,
        "items": [
            {
                "line": n,
                "seq": i.seq,
                "kind": i.kind,
                "ref": i.ref,
                "leaf_hash": i.logged.hex(),
                "path": [p.hex() for p in tree.proof(i.seq)],
            }
            for n, i in enumerate(found, start=1)
        ],
    }
    visits = [json.loads(i.data)["row"] for i in found if i.kind == "visit"]
    members: dict[str, bytes] = {
        "README.txt": readme(session_id, len(found), checkpoint).encode(),
        "checkpoint.json": _json(checkpoint.as_json()),
        "fixes.csv": shown.csv.encode(),
        "items.jsonl": lines,
        "proofs.json": _json(proofs),
        "public_key.pem": log.public_pem(key.public_key()),
        "report.pdf": shown.pdf,
        "visit_records.json": _json(visits),
    }
    manifest = _json(
        {
            "format": "crewtrack-evidence/1",
            "session": str(session_id),
            "files": {
                n: hashlib.sha256(members[n]).hexdigest() for n in SIGNED_MEMBERS
            },
        }
    )
    members["manifest.json"] = manifest
    members["manifest.sig"] = base64.b64encode(key.sign(manifest)) + b"\n"
    return _zip(members)


def _json(doc: Any) -> bytes:
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def readme(session_id: UUID, count: int, cp: log.Checkpoint) -> str:
    return f"""crewtrack evidence bundle for job session {session_id}

{count} records (items.jsonl) proven against the signed checkpoint of the
evidence log at tree size {cp.tree_size}, root {cp.root.hex()},
signed {cp.signed_at} by key {cp.key_id} (public_key.pem).

Verify with crewtrack:  crewtrack evidence verify THIS.zip --key PINNED.pem
Verify by hand (any SHA-256 and Ed25519 tool):
 1. public_key.pem must be the company's published key (compare its fingerprint:
    key_id = first 16 hex digits of sha256 of the raw 32-byte key).
 2. checkpoint.json: the Ed25519 signature (base64) must verify over the exact
    bytes of "statement": "crewtrack evidence checkpoint v1\\n", then the tree
    size, the root in hex, the signing time and the key id, each ending in \\n.
 3. For line n of items.jsonl (its bytes without the final newline):
    leaf = SHA-256(0x00 || line) must equal proofs.json items[n-1].leaf_hash.
    Fold the path (RFC 9162 section 2.1.3.2, with node = SHA-256(0x01 || left ||
    right)) from leaf index "seq" in a tree of "tree_size" leaves: the result
    must equal the checkpoint's root.
 4. manifest.json lists the SHA-256 of every other file; manifest.sig is the
    Ed25519 signature (base64) over manifest.json's exact bytes.
report.pdf, fixes.csv and visit_records.json are the server's presentation of
the records, covered by the manifest signature; the log proves items.jsonl.
Publish or compare checkpoints elsewhere: a root that others hold cannot be
rewritten later (docs/evidence.md).
"""


def export_session(
    conn: psycopg.Connection,
    session_id: UUID,
    key: Ed25519PrivateKey,
    present: Presenter,
) -> bytes:
    """Append what is pending, sign a checkpoint if the tree grew, and bundle the
    session's rows with their proofs against it, with ``present``'s PDF and CSV.

    ``conn`` is in autocommit (the log appends and signs in transactions of its
    own). Raises :class:`NoSuchSession`, or :class:`EvidenceError` when the
    session's rows changed since logged or none is logged yet.
    """
    session_items(conn, session_id)  # no such session, or rows changed: refused
    shown = present(session_id)
    log.append_pending(conn)
    log.sign_checkpoint(conn, key)
    checkpoint = log.latest_checkpoint(conn)
    if checkpoint is None:
        checkpoint = log.sign_checkpoint(conn, key, force=True)
        assert checkpoint is not None
    found = session_items(conn, session_id)
    found = [i for i in found if i.seq < checkpoint.tree_size]
    if not found:
        raise EvidenceError(
            f"nothing of session {session_id} is in the evidence log yet "
            "(rows newer than a few seconds wait for the next notary pass)"
        )
    tree = merkle.Tree(log.leaf_hashes(conn, checkpoint.tree_size))
    if tree.root != checkpoint.root:
        raise EvidenceError(
            "the evidence log no longer has its signed root: run `crewtrack evidence audit`"
        )
    return build_bundle(found, tree, checkpoint, key, shown, session_id)


# ------------------------------------------------------------------- verify


def verify(bundle: bytes, pinned: Ed25519PublicKey | None = None) -> list[str]:
    """Everything wrong with ``bundle``, in words; an empty list means it verifies."""
    try:
        z = zipfile.ZipFile(io.BytesIO(bundle))
        names = [i.filename for i in z.infolist()]
        members = {n: z.read(n) for n in names}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        return [f"the bundle is not a readable zip: {e}"]
    except Exception as e:
        return [f"the bundle is not a readable zip: {e}"]
    if sorted(names) != sorted(MEMBERS) or len(names) != len(set(names)):
        return [f"the bundle's files are {sorted(names)}, expected {sorted(MEMBERS)}"]
    problems: list[str] = []
    try:
        public = load_public(members["public_key.pem"])
    except ValueError as e:
        return [f"public_key.pem is not an Ed25519 public key: {e}"]
    if pinned is not None and log.public_pem(pinned) != members["public_key.pem"]:
        problems.append(
            f"the bundle is signed by key {log.key_id(public)}, not by the pinned "
            f"key {log.key_id(pinned)}"
        )
    manifest = members["manifest.json"]
    try:
        public.verify(
            base64.b64decode(
                members["manifest.sig"].removesuffix(b"\n"), validate=True
            ),
            manifest,
        )
    except (InvalidSignature, ValueError):
        problems.append("manifest.sig is not a valid signature of manifest.json")
    try:
        listed = json.loads(manifest)["files"]
    except (ValueError, KeyError, TypeError):
        return [*problems, "manifest.json is not a crewtrack manifest"]
    for name in SIGNED_MEMBERS:
        if listed.get(name) != hashlib.sha256(members[name]).hexdigest():
            problems.append(f"{name} does not match its sha256 in manifest.json")
    problems += _verify_log(members, public)
    if not problems and _zip(members) != bundle:
        problems.append(
            "the zip's own structure (headers, times, order) differs from the one "
            "crewtrack writes"
        )
    return problems


def _verify_log(members: dict[str, bytes], public: Ed25519PublicKey) -> list[str]:
    """The items against their proofs, the proofs against the signed checkpoint."""
    problems: list[str] = []
    try:
        cp = json.loads(members["checkpoint.json"])
        proofs = json.loads(members["proofs.json"])
        size, top = int(cp["tree_size"]), bytes.fromhex(cp["root"])
        stmt = log.statement(size, top, cp["signed_at"], cp["key_id"])
        sig = base64.b64decode(cp["signature"], validate=True)
        entries = proofs["items"]
    except (ValueError, KeyError, TypeError) as e:
        return [f"checkpoint.json or proofs.json is malformed: {e}"]
    if cp.get("statement") != stmt.decode():
        problems.append("checkpoint.json's statement does not match its fields")
    if cp["key_id"] != log.key_id(public):
        problems.append("the checkpoint names another key than public_key.pem")
    try:
        public.verify(sig, stmt)
    except InvalidSignature:
        problems.append(f"the checkpoint (size {size}) is not signed by public_key.pem")
    if proofs.get("tree_size") != size:
        problems.append("proofs.json is for another tree size than the checkpoint")
    raw = members["items.jsonl"]
    lines = raw.split(b"\n")
    if not raw.endswith(b"\n") or len(lines) - 1 != len(entries):
        return [
            *problems,
            f"items.jsonl has {len(lines) - 1} lines for {len(entries)} proofs",
        ]
    for n, (line, entry) in enumerate(zip(lines, entries, strict=False), start=1):
        try:
            what = f"item {n} ({entry['kind']} {entry['ref']})"
            item = json.loads(line)
            if item.get("kind") != entry["kind"] or item.get("ref") != entry["ref"]:
                problems.append(f"{what}: the line is another record than its proof")
            h = merkle.leaf_hash(line)
            if h.hex() != entry["leaf_hash"]:
                problems.append(f"{what}: its bytes do not hash to the logged leaf")
                continue
            path = [bytes.fromhex(p) for p in entry["path"]]
            merkle.verify_inclusion(h, int(entry["seq"]), size, path, top)
        except merkle.ProofError as e:
            problems.append(f"{what}: {e}")
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"item {n}: malformed ({e})")
    return problems


def notarize(
    conn: psycopg.Connection, key: Ed25519PrivateKey
) -> tuple[int, log.Checkpoint | None]:
    """One notary pass: append what is pending, sign the tree if it grew."""
    appended = log.append_pending(conn)
    return appended, log.sign_checkpoint(conn, key)
