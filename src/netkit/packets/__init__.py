"""``netkit packets``: the packet tools of the texts' Scapy chapter, exact and scriptable.

- :func:`dns_query` (``_dns``): a hand-built DNS query and its whole decoded answer.
- :func:`arp_sweep` (``_arp``): ARP ping of a subnet -- IP, MAC, vendor, RTT, duplicates.
- :func:`trace` (``_trace``): traceroute by TCP SYN, UDP or ICMP to many hosts and ports at
  once; :func:`graph_dot` (``_graph``) draws the merged paths.
- :func:`capture` and :func:`read_pcap` (``_sniff``): a capture with the BPF filter in the
  kernel, one line per packet, pcap files.

scapy builds and dissects where speed does not matter (DNS, ``--show``); the hot paths use
raw sockets with kernel BPF filters (``_raw``). Without CAP_NET_RAW they raise
:class:`NeedsPrivilege`, whose message says how to grant it.

Imports are lazy: ``import netkit.packets`` loads nothing until a name is used.
"""

_MODULES = {
    "netkit.packets._arp": ("ArpHost", "ArpSweep", "arp_sweep"),
    "netkit.packets._dns": ("DnsRecord", "DnsReply", "dns_query"),
    "netkit.packets._graph": ("graph_dot", "write_graph"),
    "netkit.packets._raw": ("NeedsPrivilege", "compile_filter"),
    "netkit.packets._sniff": ("Capture", "Packet", "PcapWriter", "capture", "read_pcap"),
    "netkit.packets._summary": ("summary",),
    "netkit.packets._trace": ("Flow", "Hop", "Trace", "lookup_names", "trace"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_LAZY)  # tests/unit/test_packets_logic.py pins it


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'netkit.packets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
