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

__all__ = [  # sorted; tests/unit/test_info_logic.py pins it
    "DnsLookup",
    "HostNames",
    "Record",
    "Service",
    "UrlParts",
    "decode_query",
    "encode_query",
    "host_names",
    "join_url",
    "lookup_records",
    "lookup_service",
    "parse_url",
    "quote",
    "reverse_lookup",
    "unquote",
]

_LAZY = {
    "DnsLookup": "netkit.info.dns",
    "HostNames": "netkit.info.dns",
    "Record": "netkit.info.dns",
    "host_names": "netkit.info.dns",
    "lookup_records": "netkit.info.dns",
    "reverse_lookup": "netkit.info.dns",
    "Service": "netkit.info.services",
    "lookup_service": "netkit.info.services",
    "UrlParts": "netkit.info.urls",
    "decode_query": "netkit.info.urls",
    "encode_query": "netkit.info.urls",
    "join_url": "netkit.info.urls",
    "parse_url": "netkit.info.urls",
    "quote": "netkit.info.urls",
    "unquote": "netkit.info.urls",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'netkit.info' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
