"""paho-mqtt 2 inside the asyncio loop: at-least-once consumer with manual acks.

As in Home Assistant's MQTT client, paho never runs its own thread: its
socket is registered with the event loop (``add_reader``/``add_writer``) so
callbacks run on the loop thread and can touch the writer directly; the only
blocking call, connect, runs in an executor and hands its socket over with
``call_soon_threadsafe``. Messages become :class:`InboundMessage` tuples
before anything else sees them.

Reading takes one of two paths, chosen once at construction and logged: the
fast path (:mod:`ingest.mqtt_fast`, paho's private packet reader, only when
its start-up check passes) or paho's public ``loop_read()``/``on_message``/
``ack()``.

Session: MQTT v5, stable client id, ``clean_start=False`` and a long session
expiry, QoS 1 shared subscriptions - the broker queues our share while we are
down and redelivers whatever we had not acked.

Connection: one task (``_keep_connected``) owns it for the consumer's whole
life and never gives up. Every failure - broker unreachable, credentials
refused, subscription refused, connection lost - waits a capped exponential
back-off with jitter (50 ms doubling up to ``ingest_reconnect_max_s``) and
tries again; a session that got as far as subscribed starts the back-off
over. ``connected`` is set only while the session is up *and* subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from core.messages import InboundMessage
from crewtrack.settings import Settings
from ingest import mqtt_fast

log = logging.getLogger(__name__)

SHARE_GROUP = "ingest"
TOPICS = (
    "crewtrack/v1/+/fix",
    "crewtrack/v1/+/event",
    "crewtrack/v1/+/status",
    "owntracks/#",
)
# A worker may be down over a weekend; the broker keeps queueing its share.
SESSION_EXPIRY_S = 7 * 86_400
# How many unacked QoS 1 messages the broker may send us (MQTT v5 Receive
# Maximum, capped at 65535 by the protocol): several whole batches in flight.
RECEIVE_MAXIMUM = 65_535
KEEPALIVE_S = 30  # paused reading (backpressure) must not outlast 1.5 × this often
# Reconnect fast at first: after a broker restart the (shared) subscription
# must be back before phones publish again; then double (with jitter, so a
# fleet of replicas does not knock in step) up to ingest_reconnect_max_s.
RECONNECT_FIRST_S = 0.05
# Why a connection attempt failed or a session ended: the label of
# crewtrack_ingest_connection_failures_total.
FAILURE_REASONS = ("unreachable", "refused", "subscription", "lost")
MISC_INTERVAL_S = 1.0  # paho's loop_misc: keepalive pings and retries
# How long one readable event may read packets. paho's loop_read() reads one
# packet per call; draining the socket in one callback saves an event-loop
# round per message. Bounded by time, not by count (256 packets were ~10 ms of
# single fixes but ~400 ms of 500-fix batches), so acks, live state and
# metrics get the loop back within a few ms.
READ_SLICE_S = 0.003
# Device acks (ingest.acks) we publish at QoS 1: how many may await the
# broker's PUBACK (paho's default is 20; one commit can ack hundreds of
# devices) and how many may wait behind those before more are dropped (a
# dropped ack costs a resend by the phone, never data).
ACK_MAX_INFLIGHT = 1_000
ACK_MAX_QUEUED = 100_000
# Why a device ack was not handed to paho: the label of
# crewtrack_ingest_device_acks_total (with "published").
ACK_OUTCOMES = ("published", "not_connected", "queue_full")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class MqttConsumer:
    """Consume device topics; hand every message to ``on_message`` on the loop."""

    def __init__(
        self,
        settings: Settings,
        on_message: Callable[[InboundMessage], None],
        *,
        topics: Iterable[str] = TOPICS,
        shared: bool = True,
        on_failure: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.settings = settings
        self.on_message = on_message
        self.on_failure = on_failure
        topics = list(topics)
        shared_topics = [f"$share/{SHARE_GROUP}/{t}" for t in topics]
        self.topics = shared_topics if shared else topics
        # a session keeps subscriptions: drop the other form after a config change
        self.stale_topics = topics if shared else shared_topics
        self.generation = 0
        self.connected = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = False
        self._paused = False
        self._sock: socket.socket | None = None
        self._connection_task: asyncio.Task[None] | None = None
        self._misc_task: asyncio.Task[None] | None = None
        # set by paho's on_disconnect: the attempt or session in hand ended
        self._lost = asyncio.Event()
        self._failure: str | None = None  # why, when known before on_disconnect
        self._session_up = False  # this attempt got as far as subscribed
        self._random = random.Random()  # noqa: S311 (jitter, not a secret)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.ingest_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(settings.mqtt_username, settings.mqtt_password or None)
        client.max_inflight_messages_set(ACK_MAX_INFLIGHT)
        client.max_queued_messages_set(ACK_MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        self.client = client
        # The fast path (paho's private reader: read-ahead buffer, own PUBLISH
        # decode, one PUBACK packet a batch) only where its check passes.
        self.fast_path, reason = mqtt_fast.check(settings.ingest_mqtt_fast_path)
        log.info(
            "MQTT fast path %s: %s",
            "on" if self.fast_path else "off, using paho's public path",
            reason,
        )
        self._fast = (
            mqtt_fast.FastReader(client, on_message) if self.fast_path else None
        )

    # --- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Start connecting; from now on the consumer stays connected or keeps trying."""
        self._misc_task = asyncio.create_task(self._misc_loop(), name="mqtt-misc")
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            KEEPALIVE_S,
            clean_start=False,
            properties=props,
        )
        self._connection_task = asyncio.create_task(
            self._keep_connected(), name="mqtt-connection"
        )

    def backoff_s(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (0-based): capped doubling, jittered.

        "Equal jitter": half the step is fixed, half random, so a retry never
        comes sooner than half the step and never later than the cap.
        """
        cap = float(self.settings.ingest_reconnect_max_s)
        step = min(cap, RECONNECT_FIRST_S * 2.0 ** min(attempt, 30))
        return step / 2 + self._random.uniform(0, step / 2)

    async def _keep_connected(self) -> None:
        """Connect, wait for the session to end, back off, again - until stopped."""
        attempt = 0
        while not self._stopping:
            self._lost.clear()
            self._failure = None
            self._session_up = False
            try:
                await self._loop.run_in_executor(None, self.client.reconnect)
            except OSError as exc:
                self._failure, what = "unreachable", f"broker not reachable ({exc})"
            else:
                # CONNACK, SUBACK and any later drop arrive through callbacks
                await self._lost.wait()
                if self._session_up:
                    attempt = 0  # it was up and subscribed: start the back-off over
                what = "connection ended"
            if self._stopping:
                return
            reason = self._failure or "lost"
            delay = self.backoff_s(attempt)
            self.on_failure(reason)
            log.warning("%s (%s); retrying in %.2f s", what, reason, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def stop(self) -> None:
        """Disconnect, keeping the session (queued messages stay at the broker)."""
        self._stopping = True
        for task in (self._connection_task, self._misc_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._sock is not None:
            self.flush_writes()
            self.client.disconnect()
            self.flush_writes()

    def flush_writes(self) -> None:
        """Write queued packets (acks) now, e.g. before disconnecting."""
        for _ in range(1000):
            if self._sock is None or not self.client.want_write():
                return
            self.client.loop_write()

    # --- backpressure and acks --------------------------------------------
    def pause(self) -> None:
        """Stop reading: the broker holds further messages for us."""
        if not self._paused:
            self._paused = True
            if self._sock is not None:
                self._loop.remove_reader(self._sock)

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            if self._sock is not None:
                self._loop.add_reader(self._sock, self._on_readable)
                self._drain_buffer_soon()

    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """PUBACK committed messages that arrived on the current connection."""
        generation = self.generation
        mids = [m.mid for m in messages if m.qos == 1 and m.generation == generation]
        if mids and self._fast is not None and self._sock is not None:
            self._fast.queue_pubacks(mids)
        else:
            for mid in mids:
                self.client.ack(mid, 1)
        return len(mids)

    def publish(self, messages: Iterable[tuple[str, bytes]]) -> dict[str, int]:
        """Publish ``(topic, payload)`` at QoS 1, not retained (device acks).

        Nothing is queued while the session is down: an ack that is not sent
        costs the phone a resend (then acked as a duplicate), while one queued
        for a long outage would only hold memory. Returns counts by outcome.
        """
        counts = dict.fromkeys(ACK_OUTCOMES, 0)
        messages = list(messages)
        if self._sock is None or not self.connected.is_set():
            counts["not_connected"] = len(messages)
            return counts
        if self._fast is not None:
            self._fast.queue_publishes(messages)  # one write, no paho bookkeeping
            counts["published"] = len(messages)
            return counts
        for topic, payload in messages:
            info = self.client.publish(topic, payload, qos=1)
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                counts["queue_full"] += 1
            else:
                counts["published"] += 1
        return counts

    # --- paho callbacks (all on the loop thread, except socket open) -------
    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any
    ) -> None:
        if rc.is_failure:
            log.error("broker refused connection: %s", rc)
            self._failure = "refused"
            return
        self.generation += 1
        if self._fast is not None:
            self._fast.generation = self.generation
        log.info(
            "connected to broker as %s (session present: %s)",
            self.settings.ingest_client_id,
            flags.session_present,
        )
        client.unsubscribe(self.stale_topics)
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics])

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any
    ) -> None:
        failed = [c for c in codes if c.is_failure]
        if failed:
            # e.g. an ACL not loaded yet: not usable, so start over (with back-off)
            log.error("subscription refused: %s; disconnecting", failed)
            self._failure = "subscription"
            self.client.disconnect()
            return
        self._session_up = True
        self.connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any
    ) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("disconnected from broker: %s", rc)
        self._lost.set()

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            if self._sock is not None:
                self.client.loop_misc()

    def _on_message(self, _c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        self.on_message(mqtt_fast.from_paho(m, now_ms(), self.generation))

    def _on_readable(self) -> None:
        fast = self._fast
        if fast is None:
            rc = self.client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.debug("loop_read: %s", rc)
            return
        read = fast.read_packet
        clock = time.perf_counter
        until = clock() + READ_SLICE_S
        while True:
            if self._sock is None or self._paused:
                return
            rc = read()
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                fast.rc_handle(rc)
                return
            if clock() > until:
                break
        self._drain_buffer_soon()

    def _drain_buffer_soon(self) -> None:
        """Buffered bytes do not make the socket readable: read them next round."""
        fast = self._fast
        if (
            fast is not None
            and fast.buffered()
            and self._sock is not None
            and not self._paused
        ):
            self._loop.call_soon(self._on_readable)

    def _reset_buffer(self) -> None:
        if self._fast is not None:
            self._fast.reset_buffer()

    def _on_socket_open(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.call_soon_threadsafe(self._register, sock)

    def _register(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reset_buffer()
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if not self._paused:
            self._loop.add_reader(sock, self._on_readable)
        if self.client.want_write():
            self._loop.add_writer(sock, self._on_writable)

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        if self._sock is sock:
            self._sock = None
            self._reset_buffer()
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _on_socket_register_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            self._add_writer(sock)
        else:
            self._loop.call_soon_threadsafe(self._add_writer, sock)

    def _add_writer(self, sock: socket.socket) -> None:
        if sock.fileno() != -1 and self.client.want_write():
            self._loop.add_writer(sock, self._on_writable)

    def _on_writable(self) -> None:
        self.client.loop_write()
        # paho only reports "unregister" for a registration it knows of; a
        # deferred add_writer may outlive it, so never poll an empty queue.
        if not self.client.want_write() and self._sock is not None:
            self._loop.remove_writer(self._sock)

    def _on_socket_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)
