"""Ports for the test servers: distinct, free, and per xdist worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from crewtrack.servers import (
    PORT_BLOCK_FIRST,
    PORT_BLOCK_SIZE,
    PORT_BLOCKS,
    PortAllocator,
)

EPHEMERAL_FIRST = int(
    Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
)


@pytest.fixture
def block_7() -> Iterator[int]:
    """The last block, which this suite's workers (at most two) never use."""
    old = PortAllocator.use_block(PORT_BLOCKS - 1)
    yield PORT_BLOCK_FIRST + (PORT_BLOCKS - 1) * PORT_BLOCK_SIZE
    PortAllocator.use_block(old)


def test_every_block_lies_below_the_kernels_ephemeral_ports() -> None:
    assert PORT_BLOCK_FIRST + PORT_BLOCKS * PORT_BLOCK_SIZE <= EPHEMERAL_FIRST


def test_two_allocators_in_one_process_never_hand_out_the_same_port(
    block_7: int,
) -> None:
    a, b = PortAllocator(), PortAllocator()
    ports = [p.free_port() for _ in range(20) for p in (a, b)]
    assert len(set(ports)) == 40
    assert all(block_7 <= p < block_7 + PORT_BLOCK_SIZE for p in ports)


def test_a_port_something_listens_on_is_skipped(block_7: int) -> None:
    allocator = PortAllocator()
    taken = allocator.free_port() + 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", taken))
        s.listen()
        assert allocator.free_port() == taken + 1


def test_each_worker_takes_ports_from_its_own_block(block_7: int) -> None:
    PortAllocator.use_block(2)
    in_2 = PortAllocator().free_port()
    PortAllocator.use_block(5)
    in_5 = PortAllocator().free_port()
    assert (in_2 - PORT_BLOCK_FIRST) // PORT_BLOCK_SIZE == 2
    assert (in_5 - PORT_BLOCK_FIRST) // PORT_BLOCK_SIZE == 5


def test_a_block_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not in 0\.\.7"):
        PortAllocator.use_block(PORT_BLOCKS)
