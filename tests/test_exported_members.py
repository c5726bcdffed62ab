"""The public names of every feature package, pinned (as httpx's tests/test_exported_members.py).

A package's ``__init__`` re-exports names from private modules, lazily for most (a name's
module loads on first use) and in an ``if TYPE_CHECKING:`` block for mypy and IDEs. This
pins each ``__all__``, and checks that every name resolves, that ``dir()`` lists it, and
that the ``TYPE_CHECKING`` imports name the very objects the lazy look-up returns.

Adding a public name: add it to the package and to its line below (one entry per package).
Public functions and classes have annotated signatures (mypy and IDEs read them; py.typed
promises them): UNANNOTATED lists those that do not yet, and nothing joins it.
"""

import ast
import importlib
import inspect
import subprocess
import sys

import pytest

EXPORTED = {
    "netkit": ["AuthError", "Cancelled", "CertificateError", "ChangedHostKey", "CommandError", "CommandTimeout",
                "ConnectError", "CutError", "DeadlineError", "HTTPStatusError", "HostKeyError", "IntegrityError",
                "LocalError", "NeedsPrivilege", "NetError", "NetkitError", "ProtocolError", "RefusedError",
                "RemoteError", "ResolveError", "SSHError", "SpeedError", "TLSError", "TimedOut", "Timeout",
                "TooLargeError", "UnknownHostKey", "UnsafeName", "UsageError", "__version__", "check_target",
                "run_checks"],

    "netkit.check": ["CheckResult", "CheckSpec", "DnsCheck", "FtpCheck", "HttpCheck", "ImapCheck", "Pop3Check",
                     "SmtpCheck", "SshCheck", "TcpCheck", "TlsCheck", "UdpCheck", "build_spec", "check", "check_async",
                     "check_many", "check_target", "load_checks", "run_checks"],

    "netkit.scan": ["HostResult", "PortResult", "ScanReport", "expand_targets", "parse_ports", "scan", "scan_iter",
                    "top_ports"],

    "netkit.transfer": ["Cancelled", "CutError", "HTTPStatusError", "IntegrityError", "LocalError", "MirrorResult",
                        "Options", "RemoteError", "Result", "adownload", "amirror", "aupload", "download",
                        "download_many", "head", "mirror", "parse_checksum", "remote_name", "upload"],

    "netkit.remote": ["AuthError", "ChangedHostKey", "CommandTimeout", "Credentials", "DEFAULT_CONNECT_TIMEOUT",
                      "DEFAULT_KEEP_OUTPUT", "DEFAULT_PARALLEL", "Fleet", "Host", "HostKeyError", "HostKeyPolicy",
                      "RunResult", "Session", "Settings", "TransferResult", "UnknownHostKey", "connect", "get",
                      "parse_host", "put", "read_hosts_file", "run"],

    "netkit.serve": ["DEFAULT_BIND", "DEFAULT_PORTS", "Limits", "Server", "Service", "run", "serving"],

    "netkit.info": ["DnsLookup", "HostNames", "Record", "Service", "UrlParts", "decode_query", "describe_url",
                    "encode_query", "host_names", "join_url", "lookup_records", "lookup_service", "quote",
                    "reverse_lookup", "unquote"],

    "netkit.mail": ["Draft", "Report", "Request", "STAGES", "Sent", "StageError", "Transcript", "build", "data_bytes",
                    "read_message", "send"],

    "netkit.rpc": ["Busy", "CallFailed", "CallTimeout", "Dispatcher", "Fault", "InternalFault", "InvalidParams",
                   "InvalidRequest", "Limits", "MethodNotFound", "OutsideRoot", "PROTOCOLS", "ParseFault", "Registry",
                   "RpcFault", "ServerConfig", "TooBig", "call", "expose", "parse_arg", "run", "value_class"],

    "netkit.packets": ["ArpHost", "ArpSweep", "Capture", "DnsRecord", "DnsReply", "Flow", "Hop", "NeedsPrivilege",
                       "Packet", "PcapWriter", "Trace", "arp_sweep", "capture", "compile_filter", "dns_query",
                       "graph_dot", "lookup_names", "read_pcap", "summary", "trace", "write_graph"],

    "netkit.monitor": ["AckCleared", "Acknowledged", "Channel", "Config", "Dispatcher", "FlappingStarted",
                       "FlappingStopped", "HardChange", "Job", "LatenessStats", "Maintenance", "Monitor", "OneOff",
                       "Policy", "Recurring", "Reload", "Result", "Run", "Scheduler", "SoftChange", "Store",
                       "TargetState", "Transition", "acknowledge", "advance", "channel_from_table", "load_config",
                       "open_store", "percent_state_change", "plan_alerts", "reminders", "run", "should_alert",
                       "unacknowledge", "window_from_table"],

    "netkit.testing": ["FakePeer"],
}

# Public callables whose signatures are not annotated yet (parameters, and a function's
# return), per package: no other name may join them. Annotate one, then remove it here.
UNANNOTATED: dict[str, list[str]] = {}

# Packages that import their names when imported (the rest load a name's module on first use).
EAGER = {"netkit.remote", "netkit.testing"}

PACKAGES = sorted(EXPORTED)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_pinned_and_sorted(package):
    module = importlib.import_module(package)
    assert module.__all__ == EXPORTED[package]
    assert EXPORTED[package] == sorted(EXPORTED[package])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_resolves_and_is_listed(package):
    module = importlib.import_module(package)
    listed = dir(module)
    for name in module.__all__:
        assert not name.startswith("_") or name == "__version__", name
        assert getattr(module, name) is not None, name
        assert name in listed, name
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("netkit."), (name, value.__module__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def _unannotated(value):
    """The parameters (and ``return``) of a function, or of a class's own ``__init__``, that
    carry no annotation."""
    if inspect.isclass(value):
        if "__init__" not in vars(value):
            return []
        function, needs_return = value.__init__, False
    elif inspect.isfunction(value):
        function, needs_return = value, True
    else:
        return []
    signature = inspect.signature(function)
    missing = [p.name for p in signature.parameters.values()
               if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")]
    if needs_return and signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("package", PACKAGES)
def test_public_signatures_are_annotated(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if _unannotated(getattr(module, name))]
    new = [name for name in missing if name not in UNANNOTATED.get(package, [])]
    assert not new, {n: _unannotated(getattr(module, n)) for n in new}
    assert UNANNOTATED.get(package, []) == sorted(UNANNOTATED.get(package, []))
    assert set(UNANNOTATED) <= set(EXPORTED)


def _type_checking_imports(module):
    """{name: module} of the ``X as X`` imports under ``if TYPE_CHECKING:`` in ``module``'s source."""
    tree = ast.parse(inspect.getsource(module))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    found.update({a.name: statement.module for a in statement.names if a.asname == a.name})
    return found


def _defined_here(module):
    tree = ast.parse(inspect.getsource(module))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in tree.body if isinstance(node, kinds)}


@pytest.mark.parametrize("package", sorted(set(PACKAGES) - EAGER))
def test_type_checkers_see_the_names_the_lazy_lookup_returns(package):
    module = importlib.import_module(package)
    seen = _type_checking_imports(module)
    own = _defined_here(module)
    assert sorted(seen.keys() | own) == [n for n in module.__all__ if n != "__version__"]
    for name, source in seen.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name), name


def test_lazy_packages_load_nothing_on_import():
    lazy = sorted(set(PACKAGES) - EAGER - {"netkit"})
    code = ("import sys; before = set(sys.modules); import " + ", ".join(lazy) + "; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith('netkit.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == sorted(["netkit.core", "netkit.core.lazy", *lazy])


def test_py_typed_ships_with_the_package():
    import tomllib
    from importlib.resources import files
    from pathlib import Path

    assert files("netkit").joinpath("py.typed").is_file()
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["netkit"]
