"""netkit.rpc without sockets: names, paths, arguments, parsing, rendering."""

import asyncio
import os
import subprocess
import sys

import pytest

from netkit.core.errors import UsageError
from netkit.rpc._admin import Root, admin_functions
from netkit.rpc._client import parse_arg
from netkit.rpc._faults import InvalidParams, MethodNotFound, OutsideRoot, ParseFault, TooBig
from netkit.rpc._http import parse_xml_call
from netkit.rpc._registry import Dispatcher, Limits, Registry, depth_over, expose


def test_importing_netkit_rpc_and_help_load_nothing_heavy():
    code = ("import sys, netkit.rpc, netkit.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'Pyro5', 'twisted', 'defusedxml')"
            " or m.startswith('netkit.rpc.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path,parts", [(".", []), ("/", []), ("", []), ("a/b", ["a", "b"]), ("/a//./b/", ["a", "b"])])
def test_paths_are_relative_to_the_root(path, parts):
    assert Root.parts(path) == parts


@pytest.mark.parametrize("path", ["..", "../etc", "a/../../b", "/..", "a\x00b", "a/" * 100 + "b"])
def test_paths_that_leave_are_refused(path):
    with pytest.raises(OutsideRoot):
        Root.parts(path)


def test_a_path_is_a_string():
    with pytest.raises(InvalidParams):
        Root.parts(["x"])


def test_links_are_not_followed(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x\n")
    os.symlink("/etc", tmp_path / "etc")
    os.symlink("d", tmp_path / "inner")  # even a link that stays inside: walked without following
    fns = admin_functions(Root(str(tmp_path)))
    assert fns["ls_boom"]("d") == ["f"]
    for path in ("etc", "etc/passwd", "inner/f"):
        with pytest.raises(OutsideRoot):
            fns["ls_boom"](path)
    assert fns["tail"]("d/f") == ["x"]


def test_expose_marks_only_identifiers():
    @expose(name="pow")
    def power(x, y):
        return x ** y

    assert power.__netkit_rpc__ == "pow"
    with pytest.raises(ValueError):
        expose(name="a.b")(power)


def test_registry_refuses_dotted_names():
    registry = Registry()
    registry.add(lambda: 1, "one")
    for name in ("one.__globals__", "__class__", "", "one ", None, 5):
        with pytest.raises(MethodNotFound):
            registry.resolve(name)


def test_depth_is_counted_without_recursion():
    value = []
    for _ in range(100_000):
        value = [value]
    assert depth_over(value, 32)
    assert not depth_over([[1, {"a": [2]}]], 4)


def test_dispatcher_faults_and_multicall():
    registry = Registry()
    registry.add(lambda x, y: x + y, "add")
    dispatcher = Dispatcher(registry, Limits(threads=2))
    try:
        assert asyncio.run(dispatcher.call("add", [1, 2])) == 3
        with pytest.raises(InvalidParams):
            asyncio.run(dispatcher.call("add", [1]))
        with pytest.raises(TooBig):
            asyncio.run(dispatcher.call("add", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], 1]))
        result = dispatcher.call_blocking("system.multicall", [[{"methodName": "add", "params": [1, 2]},
                                                                 {"methodName": "nope", "params": []}]])
        assert result == [[3], {"faultCode": -32601, "faultString": "no method 'nope'; system.listMethods lists them"}]
    finally:
        dispatcher.close()


def test_xml_parse_refuses_dtds_and_depth():
    with pytest.raises(ParseFault):
        parse_xml_call(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall/>', 32)
    deep = b"<value><array><data>" * 50 + b"</data></array></value>" * 50
    with pytest.raises(TooBig):
        parse_xml_call(b"<methodCall><methodName>x</methodName><params><param>" + deep + b"</param></params>"
                       b"</methodCall>", 32)
    assert parse_xml_call(b"<methodCall><methodName>ls</methodName><params><param><value><string>.</string>"
                          b"</value></param></params></methodCall>", 32) == ("ls", ["."])


@pytest.mark.parametrize("text,value", [("5", 5), ('"5"', "5"), ("str:5", "5"), ("int:7", 7), ("bool:true", True),
                                        ("/var/log", "/var/log"), ("[1,2]", [1, 2]), ('json:{"a":1}', {"a": 1}),
                                        ("null", None), ("float:1.5", 1.5)])
def test_call_arguments(text, value):
    assert parse_arg(text) == value


def test_bad_typed_argument_is_a_usage_error():
    with pytest.raises(UsageError):
        parse_arg("int:x")


def test_render_escapes_and_tabulates():
    from netkit.cli.rpc import render

    assert render(["a\x1b[31m", "b"]) == "a\\x1b[31m\nb\n"
    table = render([{"name": "x", "size": 1}, {"name": "y"}]).splitlines()
    assert table[0].split() == ["name", "size"] and table[2].split() == ["y"]
    assert render({"k": [1, 2]}) == "k  [1, 2]\n"
