"""The DNS record types netkit asks for, in ``netkit check dns://`` and ``netkit dns``."""

__all__ = ["RECORD_TYPES"]

RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT")
