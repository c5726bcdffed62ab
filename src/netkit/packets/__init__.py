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

TYPE_CHECKING = False

_MODULES = {
    "netkit.packets._arp": ("ArpHost", "ArpSweep", "arp_sweep"),
    "netkit.packets._dns": ("DnsRecord", "DnsReply", "dns_query"),
    "netkit.packets._graph": ("graph_dot", "write_graph"),
    "netkit.packets._raw": ("NeedsPrivilege", "compile_filter"),
    "netkit.packets._sniff": ("Capture", "Packet", "PcapWriter", "capture", "read_pcap"),
    "netkit.packets._summary": ("summary",),
    "netkit.packets._trace": ("Flow", "Hop", "Trace", "lookup_names", "trace"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.packets._arp import ArpHost as ArpHost
    from netkit.packets._arp import ArpSweep as ArpSweep
    from netkit.packets._arp import arp_sweep as arp_sweep
    from netkit.packets._dns import DnsRecord as DnsRecord
    from netkit.packets._dns import DnsReply as DnsReply
    from netkit.packets._dns import dns_query as dns_query
    from netkit.packets._graph import graph_dot as graph_dot
    from netkit.packets._graph import write_graph as write_graph
    from netkit.packets._raw import NeedsPrivilege as NeedsPrivilege
    from netkit.packets._raw import compile_filter as compile_filter
    from netkit.packets._sniff import Capture as Capture
    from netkit.packets._sniff import Packet as Packet
    from netkit.packets._sniff import PcapWriter as PcapWriter
    from netkit.packets._sniff import capture as capture
    from netkit.packets._sniff import read_pcap as read_pcap
    from netkit.packets._summary import summary as summary
    from netkit.packets._trace import Flow as Flow
    from netkit.packets._trace import Hop as Hop
    from netkit.packets._trace import Trace as Trace
    from netkit.packets._trace import lookup_names as lookup_names
    from netkit.packets._trace import trace as trace
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
