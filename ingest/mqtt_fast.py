"""The MQTT fast path: paho-mqtt's private packet reader, fenced by a start-up check.

paho's own PUBLISH handling (an ``MQTTMessage`` and a ``Properties`` object per
message, topic matching under a lock, debug formatting) cost over half of the
event loop's time per message at 5,000 messages/s. :class:`FastReader` drives
paho's private reader instead: socket reads go through a read-ahead buffer,
QoS 0/1 PUBLISH packets are decoded here straight into an
:class:`InboundMessage`, a batch's PUBACKs are queued as one packet, and so
are a commit's device acks (QoS 1 PUBLISH packets built here; the broker's
PUBACKs for them are dropped unread, as paho drops a PUBACK for a message id
it does not track).

Private methods change without notice, so :func:`check` decides once, at
start, whether the fast path may run: the setting allows it, the installed
paho is the series it was checked against (:data:`TESTED_PAHO`), and a
self-test feeds known PUBLISH packets through paho's public path and through
the fast path and compares the messages and the PUBACK bytes each writes.
Anything else means paho's public path (``loop_read()``, ``on_message``,
``ack()``), which is slower but needs no private names.
"""

from __future__ import annotations

import importlib.metadata
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, _ConnectionState
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.messages import InboundMessage
from crewtrack.settings import SettingsError, env_name

# CREWTRACK_INGEST_MQTT_FAST_PATH: "auto" = fast when the check passes.
MODES = ("auto", "off")
# The paho-mqtt series whose private reader FastReader was written against
# (pyproject pins paho-mqtt>=2.2,<2.3); any other version: the public path.
TESTED_PAHO = (2, 2)
# Bytes taken from the socket per recv(). paho reads a packet in three recv()
# calls (type byte, length byte, body); reading ahead into our buffer turns
# three system calls a message into one per this many bytes.
RECV_CHUNK = 256 * 1024
# A PUBACK with reason "success" and no properties (MQTT 3.1.1 and 5): fixed
# header 0x40, remaining length 2, packet id. As one big-endian uint32 a
# message: 0x4002 << 16 | mid.
PUBACK_HEADER = 0x4002_0000

_U16 = struct.Struct(">H")
_ID_NO_PROPS = struct.Struct(">HB").pack  # packet id, then a zero properties length
_QOS1_PUBLISH = bytes((mqtt.PUBLISH | 1 << 1,))  # fixed header: QoS 1, not retained


def decode_publish(
    command: int, data: bytes | bytearray, received_ms: int, generation: int
) -> InboundMessage | None:
    """A QoS 0/1 MQTT 5 PUBLISH as a message; None to let paho handle the packet.

    ``command`` is the fixed header's first byte, ``data`` everything after
    the remaining length. paho gets every other packet type, QoS 2, a topic
    alias (empty topic), a topic that is not UTF-8 and anything malformed; it
    then decides as it always does. Properties are read by paho's own parser
    (only when there are any: phones send none) so a packet paho would refuse
    is never accepted here.
    """
    qos = (command & 0x06) >> 1
    if command & 0xF0 != mqtt.PUBLISH or qos > 1:
        return None
    try:
        (tlen,) = _U16.unpack_from(data, 0)
        pos = 2 + tlen
        topic = data[2:pos].decode()
        mid = 0
        if qos:
            (mid,) = _U16.unpack_from(data, pos)
            pos += 2
        if data[pos]:  # properties: a variable byte integer length, then them
            _props, plen = Properties(PacketTypes.PUBLISH).unpack(data[pos:])  # type: ignore[no-untyped-call]
            pos += plen
        else:
            pos += 1
    except Exception:  # malformed in any way: paho's path decides
        return None
    if not topic or pos > len(data):
        return None
    return InboundMessage(
        topic,
        bytes(data[pos:]),
        received_ms,
        mid,
        qos,
        bool(command & 0x01),
        bool(command & 0x08),
        generation,
    )


def from_paho(m: mqtt.MQTTMessage, received_ms: int, generation: int) -> InboundMessage:
    """paho's public path: an ``on_message`` message as an InboundMessage."""
    return InboundMessage(
        m.topic,
        bytes(m.payload),
        received_ms,
        m.mid,
        m.qos,
        m.retain,
        m.dup,
        generation,
    )


class FastReader:
    """Drive paho's private packet reader for one client (loop thread only).

    Hooks ``_sock_recv`` (read-ahead buffer) and ``_packet_handle`` (own
    PUBLISH decode) on ``client``; ``read_packet``/``rc_handle`` are paho's
    ``_packet_read``/``_loop_rc_handle``, called per packet by the consumer.
    Construct only after :func:`check` said yes.
    """

    def __init__(
        self, client: mqtt.Client, deliver: Callable[[InboundMessage], None]
    ) -> None:
        self.client = client
        self.deliver = deliver
        self.generation = 0  # the consumer's connection count, set on connect
        self.read_packet: Callable[[], MQTTErrorCode] = client._packet_read
        self.rc_handle: Callable[[MQTTErrorCode], MQTTErrorCode] = (
            client._loop_rc_handle
        )
        self._queue = client._packet_queue
        self._paho_handle = client._packet_handle
        self._raw_recv = client._sock_recv
        self._rbuf = b""
        self._rpos = 0
        client._sock_recv = self._buffered_recv  # type: ignore[method-assign]
        client._packet_handle = self._packet_handle  # type: ignore[method-assign]

    def _packet_handle(self) -> MQTTErrorCode:
        packet = self.client._in_packet
        if packet["command"] & 0xF0 == mqtt.PUBACK and not self.client._out_messages:
            # the broker's PUBACK of a device ack: paho tracks no message of
            # ours (the consumer publishes nothing through paho) and would
            # only decode and log it before dropping it
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        msg = decode_publish(
            packet["command"],
            packet["packet"],
            time.time_ns() // 1_000_000,
            self.generation,
        )
        if msg is None:
            return self._paho_handle()
        self.deliver(msg)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _buffered_recv(self, bufsize: int) -> bytes:
        """paho's ``_sock_recv`` through a read-ahead buffer."""
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = self._raw_recv(RECV_CHUNK)  # BlockingIOError when nothing is there
            if not buf:
                return buf  # connection closed
            self._rbuf = buf
            pos = 0
        self._rpos = pos + bufsize
        return buf[pos : pos + bufsize]

    def buffered(self) -> bool:
        """Bytes read ahead and not yet handed to paho (the socket is not readable)."""
        return self._rpos < len(self._rbuf)

    def reset_buffer(self) -> None:
        self._rbuf = b""
        self._rpos = 0

    def queue_pubacks(self, mids: Sequence[int]) -> None:
        """PUBACK these QoS 1 messages as one queued packet (one send())."""
        packets = struct.pack(f">{len(mids)}I", *[PUBACK_HEADER | mid for mid in mids])
        self._queue(mqtt.PUBACK, packets, 0, 0)

    def queue_publishes(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish ``(topic, payload)`` at QoS 1, not retained, as one queued write.

        Message ids come from paho's own counter, so they never clash with its
        subscribe/unsubscribe ids. Nothing is retransmitted after a lost
        connection: a device ack that is lost costs the phone a resend.
        """
        mid = self.client._mid_generate
        parts: list[bytes] = []
        add = parts.append
        for topic, payload in messages:
            t = topic.encode()
            n = len(t) + len(payload) + 5  # topic length, topic, id, no properties
            head = bytes((n,)) if n < 128 else _remaining_length(n)
            add(_QOS1_PUBLISH + head + _U16.pack(len(t)) + t + _ID_NO_PROPS(mid(), 0))
            add(payload)
        data = b"".join(parts)
        if data:
            self._queue(mqtt.PUBLISH, data, 0, 1)


# --- the start-up check -----------------------------------------------------


def check(mode: str) -> tuple[bool, str]:
    """Whether the fast path may run, and why (for the log line)."""
    if mode not in MODES:
        raise SettingsError(
            f"{env_name('ingest_mqtt_fast_path')}={mode!r} is not one of {MODES}"
        )
    if mode == "off":
        return False, f"{env_name('ingest_mqtt_fast_path')}=off"
    try:
        version = importlib.metadata.version("paho-mqtt")
    except importlib.metadata.PackageNotFoundError:
        return False, "paho-mqtt's version is unknown (no package metadata)"
    if _series(version) != TESTED_PAHO:
        tested = ".".join(map(str, TESTED_PAHO))
        return False, f"paho-mqtt {version} is not the checked {tested} series"
    try:
        mismatch = self_test()
    except Exception as exc:  # a changed private API: public path
        return False, f"self-test failed on paho-mqtt {version}: {exc!r}"
    if mismatch is not None:
        return False, f"self-test on paho-mqtt {version}: {mismatch}"
    return True, f"paho-mqtt {version}, self-test passed"


def _series(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return None


def publish_packet(
    topic: bytes,
    payload: bytes,
    *,
    qos: int = 0,
    mid: int = 0,
    retain: bool = False,
    dup: bool = False,
    properties: bytes = b"\x00",
) -> bytes:
    """An MQTT 5 PUBLISH packet (spec 3.3); ``properties`` with its length prefix."""
    body = _U16.pack(len(topic)) + topic
    if qos:
        body += _U16.pack(mid)
    body += properties + payload
    command = mqtt.PUBLISH | qos << 1 | dup << 3 | retain
    return bytes([command]) + _remaining_length(len(body)) + body


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _probe_properties() -> bytes:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/msgpack"
    props.UserProperty = [("app", "crewtrack")]
    props.MessageExpiryInterval = 3600
    packed: bytes = props.pack()  # type: ignore[no-untyped-call]
    return packed


def _topic_alias() -> bytes:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.TopicAlias = 1
    packed: bytes = props.pack()  # type: ignore[no-untyped-call]
    return packed


def probe_packets() -> list[tuple[bytes, InboundMessage]]:
    """Known PUBLISH packets and the message each must become (received_ms 0)."""
    fix = b"\x84\xa1t\xcf\x00\x00\x01\x90\x00\x00\x00\x00\xa3lat\xcb@H\x0c\xcc"
    t1 = "crewtrack/v1/probe/fix"
    return [
        (
            publish_packet(t1.encode(), fix),
            InboundMessage(t1, fix, 0, 0, 0, generation=1),
        ),
        (
            publish_packet(t1.encode(), b"{}", qos=1, mid=7),
            InboundMessage(t1, b"{}", 0, 7, 1, generation=1),
        ),
        (
            publish_packet(
                "owntracks/probe/phone/€".encode(),
                fix,
                qos=1,
                mid=65535,
                retain=True,
                dup=True,
                properties=_probe_properties(),
            ),
            InboundMessage("owntracks/probe/phone/€", fix, 0, 65535, 1, True, True, 1),
        ),
        # left to paho, which delivers it with an empty topic
        (
            publish_packet(b"", b"x", qos=1, mid=8, properties=_topic_alias()),
            InboundMessage("", b"x", 0, 8, 1, generation=1),
        ),
    ]


class ProbeSocket:
    """A socket stand-in: ``recv`` hands out ``data`` in small pieces, ``send`` keeps."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece, self.pos = data, piece, 0
        self.sent = bytearray()

    def recv(self, bufsize: int) -> bytes:
        if self.pos >= len(self.data):
            raise BlockingIOError
        n = min(bufsize, self.piece)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def send(self, buf: bytes | bytearray) -> int:
        self.sent += buf
        return len(buf)

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def setblocking(self, flag: bool) -> None:
        pass

    @property
    def drained(self) -> bool:
        return self.pos >= len(self.data)


def _probe_client(
    stream: bytes, piece: int, got: list[InboundMessage]
) -> tuple[mqtt.Client, ProbeSocket]:
    """A client set up as the consumer's, reading ``stream`` (no network).

    Whatever paho delivers itself is appended to ``got`` (generation 1).
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="fast-path-probe",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    sock = ProbeSocket(stream, piece)
    client._sock = sock

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        got.append(from_paho(m, 0, 1))

    client.on_message = on_message
    return client, sock


# What one path made of a byte stream: messages (received_ms zeroed), the bytes
# it wrote after acking every QoS 1 message, and how reading ended.
Outcome = tuple[list[InboundMessage], bytes, str]


def read_public(stream: bytes, piece: int = RECV_CHUNK) -> Outcome:
    """``stream`` through paho's public path: loop_read(), on_message, ack()."""
    got: list[InboundMessage] = []
    client, sock = _probe_client(stream, piece, got)
    end = "ok"
    try:
        while not sock.drained:
            rc = client.loop_read()
            if client.socket() is None:
                end = "closed"
                break
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                end = rc.name
                break
    except Exception as exc:  # what a malformed packet does
        end = type(exc).__name__
    for m in got:
        if m.qos == 1:
            client.ack(m.mid, 1)
    return got, bytes(sock.sent), end


def read_fast(stream: bytes, piece: int = RECV_CHUNK) -> Outcome:
    """``stream`` through the fast path, read as the consumer reads it."""
    got: list[InboundMessage] = []
    client, sock = _probe_client(stream, piece, got)
    reader = FastReader(client, got.append)
    reader.generation = 1
    end = "ok"
    try:
        while not sock.drained or reader.buffered():
            rc = reader.read_packet()
            if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                rc = reader.rc_handle(rc)
                end = "closed" if client.socket() is None else rc.name
                break
    except Exception as exc:  # what a malformed packet does
        end = type(exc).__name__
    got = [m._replace(received_ms=0) for m in got]
    mids = [m.mid for m in got if m.qos == 1]
    if mids:
        reader.queue_pubacks(mids)
    return got, bytes(sock.sent), end


def publish_public(topic: str, payload: bytes) -> tuple[bytes, int]:
    """The bytes paho itself writes for a QoS 1 publish, and its message id."""
    client, sock = _probe_client(b"", RECV_CHUNK, [])
    client._state = _ConnectionState.MQTT_CS_CONNECTED
    info = client.publish(topic, payload, qos=1)
    client.loop_write()
    return bytes(sock.sent), info.mid


def publish_fast(topic: str, payload: bytes, mid: int) -> bytes:
    """The bytes :meth:`FastReader.queue_publishes` writes for the same publish."""
    client, sock = _probe_client(b"", RECV_CHUNK, [])
    client._state = _ConnectionState.MQTT_CS_CONNECTED
    client._last_mid = mid - 1
    FastReader(client, lambda _m: None).queue_publishes([(topic, payload)])
    client.loop_write()
    return bytes(sock.sent)


def self_test(piece: int = 7) -> str | None:
    """Probe packets through both paths (in ``piece``-byte reads); None if alike.

    Also: a device ack's PUBLISH bytes equal paho's own, and a PUBACK for a
    message id paho does not track is read without delivering anything.
    """
    topic, payload = "crewtrack/v1/probe/ack", b"\x83\xa5fixes\x90"
    public, mid = publish_public(topic, payload)
    fast = publish_fast(topic, payload, mid)
    if public != fast:
        return f"a device ack's PUBLISH is {fast!r}, paho writes {public!r}"
    puback = struct.pack(">I", PUBACK_HEADER | 4242)
    for name, outcome in (
        ("paho's public path", read_public(puback, piece)),
        ("the fast path", read_fast(puback, piece)),
    ):
        if outcome != ([], b"", "ok"):
            return f"{name} read a PUBACK of an unknown id as {outcome!r}"
    probes = probe_packets()
    stream = b"".join(packet for packet, _ in probes)
    expected = [message for _, message in probes]
    acks = b"".join(
        struct.pack(">I", PUBACK_HEADER | m.mid) for m in expected if m.qos == 1
    )
    want: Outcome = (expected, acks, "ok")
    for name, outcome in (
        ("paho's public path", read_public(stream, piece)),
        ("the fast path", read_fast(stream, piece)),
    ):
        if outcome != want:
            return f"{name} gave {_differences(outcome, want)}"
    return None


def _differences(got: Outcome, want: Outcome) -> str:
    parts: list[str] = []
    for label, a, b in zip(("messages", "acks", "end"), got, want, strict=True):
        if a != b:
            parts.append(f"{label} {a!r}, expected {b!r}")
    return "; ".join(parts)
