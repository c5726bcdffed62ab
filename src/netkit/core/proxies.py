"""Which proxy a URL goes through: ``--proxy``, else ``http_proxy``/``https_proxy``/
``all_proxy`` from the environment, minus the hosts of ``no_proxy`` (curl's rules:
comma-separated names matched as domain suffixes, IP addresses, ``*`` for all)."""

from netkit.core.target import Target, parse_target

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["bypasses", "env_bypasses", "parse_proxy", "proxy_from_env"]

_PROXY_PORTS = {"http": 1080, "https": 443}


def parse_proxy(text: str) -> Target:
    """``http://[user:pass@]host[:port]`` (``host:port`` alone means http://)."""
    text = str(text).strip()
    if "://" not in text:
        text = "http://" + text
    try:
        return parse_target(text, {"http": 1080})
    except ValueError as exc:
        raise ValueError(f"is not a proxy URL like http://proxy.example:3128 ({exc})") from None


def _env(env: "Mapping[str, str]", name: str) -> str | None:
    # Lower case wins, as curl and urllib read them; HTTP_PROXY in upper case is ignored
    # because CGI programs receive a client's "Proxy:" header under that name (httpoxy).
    value = env.get(name)
    if value is None and name != "http_proxy":
        value = env.get(name.upper())
    return value or None


def bypasses(host: str, port: int, no_proxy: str | None) -> bool:
    if not no_proxy:
        return False
    host = host.lower().strip("[]")
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, eport = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if eport and eport.isascii() and eport.isdigit():
            if int(eport) != port:
                continue
            entry = name
        entry = entry.strip("[]").lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def env_bypasses(host: str, port: int, env: "Mapping[str, str]") -> bool:
    """Whether the environment's no_proxy exempts this host (also from an explicit --proxy,
    as curl does)."""
    return bypasses(host, port, _env(env, "no_proxy"))


def proxy_from_env(scheme: str, host: str, port: int, env: "Mapping[str, str]") -> Target | None:
    """The proxy the environment names for this URL, or None."""
    if env_bypasses(host, port, env):
        return None
    value = _env(env, f"{scheme}_proxy") or _env(env, "all_proxy")
    if not value:
        return None
    return parse_proxy(value)
