"""Information about names, services and URLs: ``netkit dns``, ``service`` and ``url``.

Library use::

    from netkit.info import lookup_records, lookup_service, parse_url
    for record in lookup_records("example.com", ["MX"]).records:
        print(record.to_text())
    lookup_service("https").port          # 443
    parse_url("https://u:p@h:8443/x?a=1").port

Every function returns a typed result (with ``to_dict()``) and prints nothing. Bad input
raises :class:`netkit.core.errors.UsageError`; DNS failures raise
:class:`~netkit.core.errors.NetError` (:class:`~netkit.core.errors.Timeout` when no answer
comes). Imports are lazy: dnspython loads only when a DNS query is made.
"""

from netkit.core.lazy import lazy_names

_MODULES = {
    "netkit.info.dns": ("DnsLookup", "HostNames", "Record", "host_names", "lookup_records", "reverse_lookup"),
    "netkit.info.services": ("Service", "lookup_service"),
    "netkit.info.urls": ("UrlParts", "decode_query", "encode_query", "join_url", "parse_url", "quote", "unquote"),
}
__all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)  # tests/unit/test_info_logic.py pins __all__
