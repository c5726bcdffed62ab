"""A capture as tcpdump makes one: an AF_PACKET socket with the BPF filter in the kernel and
a TPACKET_V3 ring mapped into memory -- the kernel fills blocks of frames with their
timestamps, Python walks a whole block per wake-up instead of one system call per packet
-- and pcap files written and read back (tcpdump and wireshark read ours).

Every frame and every pcap record is hostile: lengths are checked against the block or
the file before use, a record longer than MAX_RECORD ends the read with an error (the
file's framing is lost past it), and a frame's one-line summary is made by
:mod:`netkit.packets._summary`, where a malformed packet fails only its own line.
"""

from __future__ import annotations

import mmap
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from netkit.core.errors import UsageError
from netkit.packets._raw import (
    DLT_EN10MB,
    DLT_RAW,
    ETH_P_ALL,
    attach_filter,
    compile_filter,
    packet_socket,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, BinaryIO

__all__ = ["LINKTYPE_ETHERNET", "LINKTYPE_RAW", "Capture", "Packet", "PcapWriter", "capture", "read_pcap"]

SOL_PACKET = 263
PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION = 5, 6, 10
TPACKET_V3 = 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
SLL_OFFSET = 48  # TPACKET_ALIGN(sizeof(struct tpacket3_hdr)): where the frame's sockaddr_ll is
PACKET_OUTGOING = 4
# The ring: 32 blocks of 1 MiB (tcpdump's default buffer is 2 MiB): a burst of ~500,000
# small frames fits while Python is busy writing the previous blocks.
BLOCK_SIZE = 1 << 20
BLOCK_COUNT = 32
FRAME_SIZE = 2048  # TPACKET_V3 packs frames tightly; this only sets the ring's bookkeeping
# A block is handed over after this many ms even when not full: lines show up promptly.
BLOCK_TIMEOUT_MS = 20
# A pcap record bigger than this is not a frame (tcpdump's own limit is 256 KiB).
MAX_RECORD = 262144
PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
LINKTYPE_ETHERNET, LINKTYPE_RAW = 1, 101
# ARPHRD (the kernel's link type of an interface) -> pcap link type
_LINKTYPES = {1: LINKTYPE_ETHERNET, 772: LINKTYPE_ETHERNET, 65534: LINKTYPE_RAW}
_DLT_FOR = {LINKTYPE_ETHERNET: DLT_EN10MB, LINKTYPE_RAW: DLT_RAW}
WRITE_BUFFER = 1 << 20
_BLOCK = struct.Struct("III")        # tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt
_STATUS = struct.Struct("I")
_TP3 = struct.Struct("IIIIIIH")      # tpacket3_hdr: next, sec, nsec, snaplen, len, status, mac
_RECORD = struct.Struct("<IIII")     # a pcap record header


@dataclass
class Packet:
    seconds: int
    nanos: int
    length: int   # on the wire
    data: bytes   # captured (maybe shorter)


@dataclass
class Capture:
    interface: str
    linktype: int
    captured: int = 0
    received: int = 0
    dropped: int = 0
    elapsed: float = 0.0


def interface_linktype(name: str) -> int:
    try:
        with open(f"/sys/class/net/{name}/type") as f:
            arphrd = int(f.read(16).strip())
    except (OSError, ValueError):
        return LINKTYPE_ETHERNET
    if arphrd not in _LINKTYPES:
        raise UsageError(f"{name} is of link type {arphrd}; capturing works on Ethernet, loopback and tun interfaces")
    return _LINKTYPES[arphrd]


def interface_is_loopback(name: str) -> bool:
    try:
        with open(f"/sys/class/net/{name}/type") as f:
            return f.read(16).strip() == "772"
    except OSError:
        return False


class PcapWriter:
    """A pcap file (microsecond timestamps, as tcpdump -w writes) at an open binary ``file``."""

    def __init__(self, file: BinaryIO, linktype: int, snaplen: int = MAX_RECORD) -> None:
        self.file = file
        file.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, snaplen, linktype))

    def write(self, seconds, nanos, length, data) -> None:
        self.file.write(_RECORD.pack(seconds, nanos // 1000, len(data), length) + data)

    def write_frames(self, view, frames) -> None:
        """A ring block's frames, (sec, nsec, length, start, end) into ``view``, in one write:
        the capture's hot path does no work per packet it can leave out."""
        out = bytearray()
        pack = _RECORD.pack
        for sec, nsec, length, start, end in frames:
            out += pack(sec, nsec // 1000, end - start, length)
            out += view[start:end]
        self.file.write(out)


def read_pcap(file: BinaryIO, limit: int | None = None) -> tuple[int, Iterator[Packet]]:
    """(linktype, generator of Packet) of a pcap file; UsageError for a file that is not one.
    The generator raises UsageError at a record that cannot be a frame."""
    head = file.read(24)
    if len(head) < 24:
        raise UsageError("not a pcap file: shorter than its 24-byte header")
    magic = struct.unpack("<I", head[:4])[0]
    for order in ("<", ">"):
        magic = struct.unpack(order + "I", head[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        hint = " (pcapng: convert it with 'tcpdump -r in.pcapng -w out.pcap')" if head[:4] == b"\x0a\x0d\x0d\x0a" \
            else ""
        raise UsageError(f"not a pcap file: magic {head[:4].hex()}{hint}")
    scale = 1 if magic == PCAP_MAGIC_NS else 1000
    linktype = struct.unpack(order + "I", head[20:24])[0] & 0x0FFFFFFF
    if linktype not in _DLT_FOR:
        raise UsageError(f"pcap link type {linktype} is not read here (Ethernet 1 and raw IP 101 are)")

    def records():
        count = 0
        while limit is None or count < limit:
            header = file.read(16)
            if not header:
                return
            if len(header) < 16:
                raise UsageError(f"the pcap file ends inside the header of record {count + 1}")
            seconds, fraction, caplen, length = struct.unpack(order + "IIII", header)
            if caplen > MAX_RECORD:
                raise UsageError(f"record {count + 1} claims {caplen} bytes (more than {MAX_RECORD}): the file is "
                                 "damaged past this point")
            data = file.read(caplen)
            if len(data) < caplen:
                raise UsageError(f"the pcap file ends inside record {count + 1}")
            count += 1
            yield Packet(seconds, fraction * scale, max(length, caplen), data)

    return linktype, records()


class _Ring:
    """The TPACKET_V3 receive ring of ``sock``: blocks handed to user space in turn."""

    def __init__(self, sock, skip_outgoing=False):
        self.skip_outgoing = skip_outgoing
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        request = struct.pack("IIIIIII", BLOCK_SIZE, BLOCK_COUNT, FRAME_SIZE, BLOCK_SIZE * BLOCK_COUNT // FRAME_SIZE,
                              BLOCK_TIMEOUT_MS, 0, 0)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
        self.map = mmap.mmap(sock.fileno(), BLOCK_SIZE * BLOCK_COUNT, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = memoryview(self.map)
        self.block_index = 0

    def ready(self) -> bool:
        return _STATUS.unpack_from(self.map, self.block_index * BLOCK_SIZE + 8)[0] & TP_STATUS_USER != 0

    def block(self) -> list:
        """(sec, nsec, length on the wire, start, end) of the current block's frames, their
        bytes at ``self.view[start:end]`` until :meth:`release`."""
        base = self.block_index * BLOCK_SIZE
        _, count, offset = _BLOCK.unpack_from(self.map, base + 8)
        out: list[Any] = []
        append, unpack, limit = out.append, _TP3.unpack_from, base + BLOCK_SIZE
        mapped, skip = self.map, self.skip_outgoing
        for _ in range(count):
            if not 0 < offset < BLOCK_SIZE - 64:
                break  # a corrupt block would be the kernel's bug; never read outside it
            at = base + offset
            nxt, sec, nsec, snaplen, length, _, mac = unpack(mapped, at)
            start = at + mac
            # the sockaddr_ll after the header says which way the frame went: on loopback
            # each packet is seen leaving and arriving, and libpcap keeps only the arrival
            if not (skip and mapped[at + SLL_OFFSET + 10] == PACKET_OUTGOING):
                append((sec, nsec, length, start, min(start + snaplen, limit)))
            if not nxt:
                break
            offset += nxt
        return out

    def release(self) -> None:
        """Hand the current block back to the kernel and move to the next."""
        _STATUS.pack_into(self.map, self.block_index * BLOCK_SIZE + 8, TP_STATUS_KERNEL)
        self.block_index = (self.block_index + 1) % BLOCK_COUNT

    def close(self):
        self.view.release()
        self.map.close()


def _statistics(sock):
    """(packets, drops) since the last call (PACKET_STATISTICS resets them)."""
    raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
    packets, drops = struct.unpack_from("II", raw)
    return packets, drops


def capture(interface: str, filter_text: str = "", *, on_packet: Callable[[Packet], object] | None = None,
            on_frames: Callable[[memoryview, list[Any]], object] | None = None, count: int | None = None,
            duration: float | None = None, ready: Callable[[], object] | None = None) -> Capture:
    """Capture on ``interface`` until ``count`` packets, ``duration`` seconds, or Ctrl-C:
    ``on_packet(Packet)`` for each, or ``on_frames(view, frames)`` for each block of them
    (PcapWriter.write_frames). NeedsPrivilege without CAP_NET_RAW."""
    if on_packet is None and on_frames is None:
        raise UsageError("capture() needs on_packet (one Packet at a time) or on_frames (blocks of them)")
    linktype = interface_linktype(interface)
    code = compile_filter(filter_text or "", _DLT_FOR[linktype])
    sock = packet_socket()
    result = Capture(interface, linktype)
    ring = None
    try:
        ring = _Ring(sock, skip_outgoing=interface_is_loopback(interface))
        attach_filter(sock, code)
        sock.bind((interface, ETH_P_ALL))
        _statistics(sock)  # start counting from here
        if ready:
            ready()
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR)
        start = time.monotonic()
        stop_at = start + duration if duration else None
        try:
            while count is None or result.captured < count:
                if not ring.ready():
                    wait = None if stop_at is None else max(0.0, stop_at - time.monotonic())
                    if wait == 0.0:
                        break
                    poller.poll(None if wait is None else max(1, int(wait * 1000)))
                    continue
                frames = ring.block()
                if count is not None:
                    del frames[count - result.captured:]
                try:
                    if on_frames is not None:
                        on_frames(ring.view, frames)
                    else:
                        view = ring.view
                        assert on_packet is not None  # one of the two: checked at the start
                        for sec, nsec, length, first, last in frames:
                            on_packet(Packet(sec, nsec, length, bytes(view[first:last])))
                finally:
                    ring.release()
                result.captured += len(frames)
                if stop_at is not None and time.monotonic() >= stop_at:
                    break
        except KeyboardInterrupt:
            pass  # Ctrl-C ends a capture: what was captured is kept and counted
        result.elapsed = time.monotonic() - start
        packets, drops = _statistics(sock)
        result.received, result.dropped = packets, drops
    finally:
        if ring is not None:
            ring.close()
        sock.close()
    return result


def default_interface() -> str:
    """The interface of the default route, else the first one up that is not loopback."""
    from netkit.packets._raw import route_interface

    name = route_interface("192.0.2.1")  # any address: the default route's interface
    if name:
        return name
    for _, name in socket.if_nameindex():
        if name != "lo":
            return name
    return "lo"


def open_output(path: str):
    """A buffered binary file at ``path``: created, or a regular file of ours emptied (never
    a symbolic link followed)."""
    from netkit.core.fs import open_temp

    fd, _ = open_temp(path, mode=0o644)
    return os.fdopen(fd, "wb", buffering=WRITE_BUFFER)
