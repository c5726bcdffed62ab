"""Raw sockets for the packet commands: open one (or say, in one line, that CAP_NET_RAW is
missing and how to grant it), attach a BPF filter compiled by libpcap so the kernel drops
what we do not want before Python sees it, and read an interface's index, MAC and address.

scapy costs 0.3-0.9 s of imports and its sr()/sniff() loops dissect every packet in
Python; the commands' hot paths (an ARP sweep, traceroute probes, a capture) use these
sockets directly and build or check their few fixed headers with struct.
"""

import ctypes
import errno
import os
import socket
import struct
import sys

from netkit.core.errors import NeedsPrivilege, UsageError

__all__ = [
    "DLT_EN10MB",
    "DLT_RAW",
    "ETH_P_ALL",
    "ETH_P_ARP",
    "ETH_P_IP",
    "SNAPLEN",
    "Interface",
    "NeedsPrivilege",
    "attach_filter",
    "compile_filter",
    "drain",
    "interface_info",
    "packet_socket",
    "raw_socket",
    "route_interface",
]

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
# libpcap's link types: what a filter is compiled for (an AF_PACKET SOCK_RAW socket sees
# Ethernet frames, a raw IPv4 socket sees packets from the IP header on).
DLT_EN10MB = 1
DLT_RAW = 12
SO_ATTACH_FILTER = 26
# Bytes of a packet a filter may look at and a capture keeps: tcpdump's default (-s 0).
SNAPLEN = 262144
# A filter longer than this is a mistake (the kernel's own BPF_MAXINSNS is 4096).
MAX_FILTER_TEXT = 4096
_PCAP_NAMES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so")
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927


def privilege_message() -> str:
    python = os.path.realpath(sys.executable)
    return (f"raw sockets need CAP_NET_RAW: run it as root, or grant the capability to the "
            f"Python interpreter once: sudo setcap cap_net_raw+ep {python}")


def _open(family, kind, proto):
    try:
        return socket.socket(family, kind, proto)
    except PermissionError:
        raise NeedsPrivilege(privilege_message()) from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise NeedsPrivilege(privilege_message()) from None
        raise


def raw_socket(proto: int) -> socket.socket:
    """An AF_INET SOCK_RAW socket of IP protocol ``proto`` (IPPROTO_RAW to send whole IP
    packets); NeedsPrivilege without CAP_NET_RAW."""
    return _open(socket.AF_INET, socket.SOCK_RAW, proto)


def packet_socket() -> socket.socket:
    """An AF_PACKET SOCK_RAW socket receiving nothing yet (protocol 0): attach the filter,
    then bind it to an interface and a protocol, so no unfiltered packet is ever queued."""
    return _open(socket.AF_PACKET, socket.SOCK_RAW, 0)


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]


_pcap = None


def _libpcap():
    global _pcap
    if _pcap is None:
        for name in _PCAP_NAMES:
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:
            raise UsageError("compiling a packet filter needs libpcap (Debian: apt install libpcap0.8)")
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p, ctypes.c_int,
                                     ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        _pcap = lib
    return _pcap


def compile_filter(text: str, linktype: int = DLT_EN10MB) -> bytes:
    """The tcpdump filter ``text`` compiled by libpcap (a "dead" handle: no interface, no
    privilege) into the instructions SO_ATTACH_FILTER takes (8 bytes each); UsageError with
    libpcap's words for a bad filter."""
    from netkit.core.text import for_terminal

    if len(text) > MAX_FILTER_TEXT:
        raise UsageError(f"the filter is {len(text)} characters; at most {MAX_FILTER_TEXT}")
    if "\0" in text:
        raise UsageError("the filter holds a NUL character")
    lib = _libpcap()
    handle = lib.pcap_open_dead(linktype, SNAPLEN)
    if not handle:
        raise UsageError("libpcap could not open a handle to compile the filter")
    program = _BpfProgram()
    try:
        if lib.pcap_compile(handle, ctypes.byref(program), text.encode(), 1, 0xFFFFFFFF) != 0:
            why = lib.pcap_geterr(handle).decode("utf-8", "replace")
            raise UsageError(f"bad filter {for_terminal(text)!r}: {for_terminal(why)} "
                             "(tcpdump's syntax, e.g. 'tcp port 80 and host 192.0.2.1')")
        code = ctypes.string_at(program.bf_insns, program.bf_len * 8)
        lib.pcap_freecode(ctypes.byref(program))
        return code
    finally:
        lib.pcap_close(handle)


def filter_matcher(code: bytes):
    """A function (frame bytes, length on the wire) -> bool running compiled ``code`` in
    libpcap's BPF interpreter: the filter of ``sniff -r``, where no kernel runs it."""
    lib = _libpcap()
    lib.bpf_filter.restype = ctypes.c_uint
    lib.bpf_filter.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
    program = ctypes.create_string_buffer(code, len(code))

    def matches(data: bytes, wirelen: int) -> bool:
        return lib.bpf_filter(program, data, max(wirelen, len(data)), len(data)) != 0

    return matches


def attach_filter(sock: socket.socket, code: bytes) -> None:
    """Attach compiled BPF ``code`` to ``sock``: the kernel drops what it rejects."""
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def drain(sock: socket.socket) -> None:
    """Throw away what a raw IP socket queued before its filter was attached."""
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        sock.setblocking(True)


class Interface:
    """A network interface: name, index, MAC (bytes, 6 or empty), IPv4 address (or None)."""

    __slots__ = ("address", "index", "mac", "name")

    def __init__(self, name, index, mac, address):
        self.name, self.index, self.mac, self.address = name, index, mac, address


def interface_info(name: str) -> Interface:
    """The interface ``name``; UsageError naming the interfaces there are when it is not one."""
    import fcntl

    names = [n for _, n in socket.if_nameindex()]
    if name not in names or len(name.encode()) > 15:
        from netkit.core.text import for_terminal

        raise UsageError(f"no interface {for_terminal(name)!r}; the interfaces are {', '.join(sorted(names))}")
    index = socket.if_nametoindex(name)
    request = struct.pack("256s", name.encode())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            mac = fcntl.ioctl(s, SIOCGIFHWADDR, request)[18:24]
        except OSError:
            mac = b""
        try:
            address = socket.inet_ntoa(fcntl.ioctl(s, SIOCGIFADDR, request)[20:24])
        except OSError:
            address = None
    return Interface(name, index, mac, address)


def route_interface(address: str):
    """The interface the IPv4 routing table sends ``address`` out of (the longest matching
    prefix of /proc/net/route), or None."""
    target = struct.unpack("<I", socket.inet_aton(address))[0]
    best = None
    try:
        with open("/proc/net/route") as table:
            lines = table.read(1 << 20).splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination, mask, flags = int(fields[1], 16), int(fields[7], 16), int(fields[3], 16)
        except ValueError:
            continue
        if not flags & 1 or target & mask != destination:  # RTF_UP
            continue
        length = mask.bit_count()
        if best is None or length > best[0]:
            best = (length, fields[0])
    return best[1] if best else None
