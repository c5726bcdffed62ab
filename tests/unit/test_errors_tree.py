"""The exception tree drawn in netkit.core.errors' docstring is the tree the classes form,
and the Timeout value (netkit.core.timeout) validates and answers per phase."""

import inspect

import pytest

import netkit
from netkit.core import errors
from netkit.core.errors import NetkitError, TimedOut, UsageError
from netkit.core.timeout import Timeout


def _drawn_tree():
    """{class name: parent name} read from the docstring's drawing (``├──``/``└──`` rows)."""
    parents, stack = {}, []
    for line in errors.__doc__.splitlines():
        stripped = line.strip()
        if not stripped or stripped == "::":
            continue
        if stripped == "NetkitError":
            stack = [(line.index("N"), "NetkitError")]
            continue
        if not stack or not any(mark in line for mark in ("├──", "└──")):
            if stack and not line.startswith("    "):
                break  # the prose after the drawing
            continue
        at = max(line.find("├──"), line.find("└──"))
        name = line[at + 3:].split()[0]
        if not name[0].isalpha():
            continue  # a note such as "(AuthError, below, ...)"
        while stack and stack[-1][0] >= at:
            stack.pop()
        parents[name] = stack[-1][1]
        stack.append((at, name))
    return parents


def test_the_docstring_draws_every_class_with_its_real_parent():
    drawn = _drawn_tree()
    classes = {name: getattr(errors, name) for name in errors.__all__ if inspect.isclass(getattr(errors, name))}
    assert sorted(drawn) == sorted(set(classes) - {"NetkitError"})
    for name, parent in drawn.items():
        assert classes[name].__bases__ == (classes[parent],), name


def test_every_error_is_a_netkit_error_and_the_root_re_exports_it():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, NetkitError)
        assert getattr(netkit, name) is cls
    assert netkit.Timeout is Timeout


def test_timed_out_carries_its_phase():
    assert TimedOut("no answer", phase="read").phase == "read"
    assert errors.DeadlineError("spent").phase == "total"
    assert not errors.DeadlineError("spent").transient
    assert errors.HTTPStatusError("busy", 503).transient and not errors.HTTPStatusError("gone", 404).transient
    failed = errors.CommandError("exit 3", returncode=3, result="r")
    assert (failed.returncode, failed.result) == (3, "r") and isinstance(failed, errors.RemoteError)


def test_timeout_phases():
    t = Timeout(10, connect=3)
    assert (t.total, t.connect, t.read) == (10.0, 3.0, None)
    assert t.limit("connect") == 3.0 and t.limit("read") == 10.0
    assert t.limit("connect", remaining=1.5) == 1.5 and t.limit("read", remaining=-2) == 0.0
    assert Timeout(read=4).limit("connect") is None and Timeout(read=4).longest == 4.0
    assert Timeout.of(5) == Timeout(5) and Timeout.of(None, 7) == Timeout(7) and Timeout.of(t) is t
    assert hash(Timeout(5)) == hash(Timeout.of(5.0)) and repr(t) == "Timeout(total=10.0, connect=3.0)"
    assert str(Timeout()) == "no timeout" and Timeout(5).deadline(100.0) == 105.0
    with pytest.raises(AttributeError):
        t.total = 3


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), 1e9, True, "5"])
def test_timeout_refuses_what_is_not_seconds(bad):
    with pytest.raises(UsageError, match=r"Timeout\(total=\.\.\.\) expects seconds"):
        Timeout(bad)
    with pytest.raises(UsageError, match="expects seconds"):
        Timeout(connect=bad)
    if not isinstance(bad, str):
        return
    with pytest.raises(UsageError, match="a number\\) or a netkit.Timeout"):
        Timeout.of(bad)
