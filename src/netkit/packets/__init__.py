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

from netkit.core.lazy import lazy_names

_MODULES = {
    "netkit.packets._arp": ("ArpHost", "ArpSweep", "arp_sweep"),
    "netkit.packets._dns": ("DnsRecord", "DnsReply", "dns_query"),
    "netkit.packets._graph": ("graph_dot", "write_graph"),
    "netkit.packets._raw": ("NeedsPrivilege", "compile_filter"),
    "netkit.packets._sniff": ("Capture", "Packet", "PcapWriter", "capture", "read_pcap"),
    "netkit.packets._summary": ("summary",),
    "netkit.packets._trace": ("Flow", "Hop", "Trace", "lookup_names", "trace"),
}
__all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)  # tests/unit/test_packets_logic.py pins __all__
