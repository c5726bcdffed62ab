"""The vendor of a MAC address, from the IEEE registry files Debian ships (arp-scan's
ieee-oui.txt, ieee-data's oui.txt, wireshark's manuf): the longest registered prefix wins
(MA-L 24 bits, MA-M 28, MA-S 36). Only the prefixes asked for are kept from the file."""

from netkit.core.text import is_digits

__all__ = ["OUI_FILES", "vendors"]

OUI_FILES = ("/usr/share/arp-scan/ieee-oui.txt", "/usr/share/ieee-data/oui.txt", "/usr/share/wireshark/manuf")
# The registry is ~1.5 MB; a file much bigger than that named here is not one.
MAX_OUI_FILE = 16 << 20
LOCAL = "(locally administered)"


def _hex(mac: str) -> str:
    return mac.replace(":", "").upper()


def _entries(text: str):
    """(hex prefix, vendor) of each line of any of the three formats."""
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        if "(hex)" in line:  # ieee-data: "00-16-3E   (hex)\t\tXensource, Inc."
            prefix, _, vendor = line.partition("(hex)")
            yield prefix.strip().replace("-", "").upper(), vendor.strip()
            continue
        prefix, _, vendor = line.partition("\t")
        if "/" in prefix:  # wireshark: "00:50:C2:7D:50/36\tDEUTA"
            prefix, _, bits = prefix.partition("/")
            digits = _hex(prefix)[: int(bits) // 4] if is_digits(bits) else ""
        else:
            digits = _hex(prefix)
        vendor = vendor.split("\t")[-1].strip()
        if digits and vendor and all(c in "0123456789ABCDEF" for c in digits):
            yield digits, vendor


def vendors(macs, files=OUI_FILES) -> dict:
    """{mac: vendor} for ``macs`` ("aa:bb:..." strings): "(locally administered)" for a MAC
    with the U/L bit set, "" when unknown or when no registry file is installed."""
    wanted = {mac: _hex(mac) for mac in macs}
    found = {mac: (0, "") for mac in wanted}
    for mac, digits in wanted.items():
        if len(digits) >= 2 and int(digits[:2], 16) & 0x02:
            found[mac] = (99, LOCAL)
    if any(length == 0 for length, _ in found.values()):
        for path in files:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read(MAX_OUI_FILE)
            except OSError:
                continue
            by_oui: dict[str, list[str]] = {}
            for mac, digits in wanted.items():
                by_oui.setdefault(digits[:6], []).append(mac)
            for digits_prefix, vendor in _entries(text):
                for mac in by_oui.get(digits_prefix[:6], ()):
                    if wanted[mac].startswith(digits_prefix) and len(digits_prefix) > found[mac][0]:
                        found[mac] = (len(digits_prefix), vendor)
            break
    return {mac: vendor for mac, (_, vendor) in found.items()}
