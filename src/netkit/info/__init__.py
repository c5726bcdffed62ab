"""Information about names, services and URLs: ``netkit dns``, ``service`` and ``url``.

Library use::

    from netkit.info import describe_url, lookup_records, lookup_service
    for record in lookup_records("example.com", ["MX"]).records:
        print(record.to_text())
    lookup_service("https").port          # 443
    describe_url("https://u:p@h:8443/x?a=1").port

Every function returns a typed result (with ``to_dict()``) and prints nothing. Bad input
raises :class:`netkit.core.errors.UsageError`; DNS failures raise
:class:`~netkit.core.errors.NetError` (:class:`~netkit.core.errors.TimedOut` when no answer
comes). Imports are lazy: dnspython loads only when a DNS query is made.
"""

from netkit.core.lazy import lazy_names

TYPE_CHECKING = False

_MODULES = {
    "netkit.info.dns": ("DnsLookup", "HostNames", "Record", "host_names", "lookup_records", "reverse_lookup"),
    "netkit.info.services": ("Service", "lookup_service"),
    "netkit.info.urls": ("UrlParts", "decode_query", "describe_url", "encode_query", "join_url", "quote", "unquote"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.info.dns import DnsLookup as DnsLookup
    from netkit.info.dns import HostNames as HostNames
    from netkit.info.dns import Record as Record
    from netkit.info.dns import host_names as host_names
    from netkit.info.dns import lookup_records as lookup_records
    from netkit.info.dns import reverse_lookup as reverse_lookup
    from netkit.info.services import Service as Service
    from netkit.info.services import lookup_service as lookup_service
    from netkit.info.urls import UrlParts as UrlParts
    from netkit.info.urls import decode_query as decode_query
    from netkit.info.urls import describe_url as describe_url
    from netkit.info.urls import encode_query as encode_query
    from netkit.info.urls import join_url as join_url
    from netkit.info.urls import quote as quote
    from netkit.info.urls import unquote as unquote
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
