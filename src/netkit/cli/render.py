"""Results as text: the Nagios plugin line, JSON, and the -v dialogue."""

from netkit.core.perfdata import format_perfdata

__all__ = ["nagios_line", "nagios_long_text", "json_line", "unknown_line"]


def _clean(text: str) -> str:
    # '|' starts perfdata and a newline starts long output: neither may be in the text. The
    # summary quotes what peers said: every other control character (ESC and so terminal
    # sequences, BEL, C1) is shown escaped, never sent to the terminal or the monitor.
    from netkit.core.text import for_terminal

    return for_terminal(text.replace("|", "/").replace("\r", " ").replace("\n", " "))


def nagios_line(result) -> str:
    """``SERVICE STATUS - text|perfdata``."""
    line = f"{_clean(result.service)} {result.status.label} - {_clean(result.summary)}"
    if result.metrics:
        line += "|" + format_perfdata(result.metrics)
    return line


def nagios_long_text(lines) -> str:
    """The long output after the Nagios line (the -v dialogue), two spaces in. Nagios reads
    the first '|' of the long output as the start of more perfdata, so a peer's '|' (a
    banner, a body) is shown as '/' there as in the summary; the lines come escaped."""
    return "".join(f"  {line.replace('|', '/')}\n" for line in lines)


def json_line(result) -> str:
    import json

    from netkit.core.text import json_controls_escaped

    return json_controls_escaped(json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":")))


def unknown_line(message: str, as_json: bool = False, service: str = "NETKIT") -> str:
    if as_json:
        import json

        return json.dumps({"name": None, "target": None, "status": "UNKNOWN", "code": 3,
                           "summary": message, "metrics": {}, "timings": {}, "error": message,
                           "details": {}}, ensure_ascii=True)
    return f"{service} UNKNOWN - {_clean(message)}"
