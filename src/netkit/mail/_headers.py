"""Headers of a message a server sent, decoded for people: RFC 2047 encoded-words in any
charset Python knows, raw 8-bit headers read as UTF-8 or the message's own charset, folded
lines unfolded, every value cut to :data:`MAX_VALUE` characters. Control characters stay in
the text (JSON escapes them; the terminal renderer shows them as ``\\xHH``)."""

__all__ = ["MAX_VALUE", "SHOWN", "decode_value", "summary"]

# The longest header value kept for a listing (RFC 5322's line limit is 998; a Subject of
# a megabyte is an attack on the listing, not a subject).
MAX_VALUE = 998
# The headers a listing shows.
SHOWN = ("from", "to", "subject", "date")


def _decode_bytes(raw: bytes, charset) -> str:
    for name in ("utf-8", charset):
        if name:
            try:
                return raw.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("latin-1")


def decode_value(raw: bytes, charset=None) -> str:
    """One header's value (bytes after the colon, maybe folded) as text."""
    from email.header import decode_header

    text = _decode_bytes(raw[: MAX_VALUE * 4], charset)
    text = " ".join(text.replace("\r", " ").replace("\n", " ").split()) if "=?" not in text else \
        text.replace("\r\n", "").replace("\n", "").strip()
    if "=?" in text:
        try:
            parts = decode_header(text)
        except Exception:  # a malformed encoded-word: the text as it came
            parts = [(text, None)]
        out = []
        for value, part_charset in parts:
            if isinstance(value, bytes):
                try:
                    value = value.decode(part_charset or "ascii", "replace")
                except LookupError:  # a charset Python does not know
                    value = value.decode("latin-1")
            out.append(value)
        text = "".join(out)
    return text[:MAX_VALUE]


def _charset(head: bytes):
    """The charset the Content-Type names, for raw 8-bit headers (KOI8-R, cp1251 mail)."""
    import re

    found = re.search(rb'(?im)^content-type:[^\n]*?charset="?([A-Za-z0-9_.:-]{1,40})', head)
    return found.group(1).decode("ascii") if found else None


def summary(head: bytes) -> dict:
    """{from, to, subject, date} of a header block (the first of each; "" when absent)."""
    charset = _charset(head)
    fields = {name: "" for name in SHOWN}
    name = None
    value = b""
    found = {}
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and name is not None:
            value += b" " + line.strip()
            continue
        if name is not None and name not in found:
            found[name] = value
        key, colon, rest = line.partition(b":")
        name = key.strip().lower().decode("latin-1") if colon else None
        value = rest.strip()
    if name is not None and name not in found:
        found[name] = value
    for shown in SHOWN:
        if shown in found:
            fields[shown] = decode_value(found[shown], charset)
    return fields
