"""Encrypted OwnTracks payloads (issue 18): opened with the device's key, then
decoded as if sent in the clear; without a key or with a wrong one, rejected.

The fixtures were built the way the Android app's ``EncryptionProvider`` builds
them: key = the passphrase's UTF-8 bytes zero-padded/truncated to 32, a random
24-byte nonce, libsodium ``crypto_secretbox``, base64 of nonce + box without
line wraps, in ``{"_type": "encrypted", "data": …}``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from core.messages import InboundMessage, Processed
from ingest.pipeline import process
from ingest.protocols.owntracks import encrypt, key_from_passphrase
from ingest.validate import Limits

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "owntracks"
RECEIVED = 1709539200000 + 120_000
TOPIC = "owntracks/van-1/phone"
# the passphrases the fixtures were encrypted with (as typed into the app)
SHORT = "Isartal-2024"
LONG = "Grüße aus dem Isartal – Heizung läuft!"  # 41 UTF-8 bytes: truncated
KEYS = {
    "encrypted_location.json": key_from_passphrase(SHORT),
    "encrypted_transition.json": key_from_passphrase(LONG),
}


def run(
    payload: bytes, key: bytes | None, topic: str = TOPIC, device: str = "van-1"
) -> Processed:
    def keys(device_id: str) -> bytes | None:
        return key if device_id == device else None

    return process(InboundMessage(topic, payload, RECEIVED), Limits(), keys)


def fixture(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def test_the_key_is_the_passphrase_in_utf8_zero_padded_or_truncated_to_32_bytes() -> (
    None
):
    assert key_from_passphrase(SHORT) == b"Isartal-2024" + bytes(20)
    assert key_from_passphrase(LONG) == LONG.encode("utf-8")[:32]
    assert len(LONG.encode("utf-8")) > 32
    with pytest.raises(ValueError, match="empty passphrase"):
        key_from_passphrase("")


def test_an_encrypted_location_is_stored_exactly_like_the_same_location_in_clear() -> (
    None
):
    clear = run(fixture("location.json"), None)
    p = run(fixture("encrypted_location.json"), KEYS["encrypted_location.json"])
    assert p.rejections == []
    assert p.fixes == clear.fixes
    assert len(p.fixes) == 1
    assert p.fixes[0].lat == 48.137154
    # provenance is the bytes the phone sent, not the plaintext
    assert p.sha256 != clear.sha256


def test_an_encrypted_transition_under_a_long_passphrase_keeps_its_event() -> None:
    p = run(fixture("encrypted_transition.json"), KEYS["encrypted_transition.json"])
    assert p.rejections == []
    (event,) = p.events
    assert (event.type, event.job) == ("geofence_enter", "J-1042")
    assert p.kind == "event"


@pytest.mark.parametrize("name", sorted(KEYS))
def test_an_encrypted_payload_of_a_device_without_a_key_is_rejected_as_encrypted_without_key(
    name: str,
) -> None:
    p = run(fixture(name), None)
    assert (p.fixes, p.events) == ([], [])
    assert [r.reason for r in p.rejections] == ["encrypted_without_key"]
    assert p.device_id == "van-1"


def test_an_encrypted_payload_without_any_key_source_is_rejected_too() -> None:
    payload = fixture("encrypted_location.json")
    p = process(InboundMessage(TOPIC, payload, RECEIVED), Limits())
    assert [r.reason for r in p.rejections] == ["encrypted_without_key"]


def test_a_wrong_key_is_rejected_as_decrypt_failed() -> None:
    p = run(fixture("encrypted_location.json"), key_from_passphrase("Isartal-2025"))
    assert p.fixes == []
    assert [r.reason for r in p.rejections] == ["decrypt_failed"]


def test_an_altered_payload_is_rejected_as_decrypt_failed() -> None:
    obj = json.loads(fixture("encrypted_location.json"))
    wire = bytearray(base64.b64decode(obj["data"]))
    wire[40] ^= 1
    obj["data"] = base64.b64encode(bytes(wire)).decode()
    p = run(json.dumps(obj).encode(), KEYS["encrypted_location.json"])
    assert [r.reason for r in p.rejections] == ["decrypt_failed"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"_type":"encrypted"}', "missing_field"),
        (b'{"_type":"encrypted","data":17}', "bad_type"),
        (b'{"_type":"encrypted","data":"%%% not base64 %%%"}', "bad_encoding"),
        (b'{"_type":"encrypted","data":"c2hvcnQ="}', "decrypt_failed"),
    ],
)
def test_a_malformed_encrypted_payload_is_rejected_with_what_is_wrong(
    payload: bytes, reason: str
) -> None:
    p = run(payload, KEYS["encrypted_location.json"])
    assert [r.reason for r in p.rejections] == [reason]


def test_the_decrypted_message_is_checked_like_a_clear_one() -> None:
    key = key_from_passphrase(SHORT)
    nonce = bytes(range(24))
    other_topic = b'{"_type":"location","lat":1,"lon":2,"tst":1709539200,"topic":"owntracks/van-2/x"}'
    nested = encrypt(fixture("encrypted_location.json"), key, nonce)
    not_json = encrypt(b"\x00\x01", key, nonce)
    assert [
        r.reason for r in run(encrypt(other_topic, key, nonce), key).rejections
    ] == ["device_mismatch"]
    assert [r.reason for r in run(nested, key).rejections] == ["bad_shape"]
    assert [r.reason for r in run(not_json, key).rejections] == ["bad_encoding"]
