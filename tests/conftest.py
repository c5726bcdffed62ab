"""Shared fixtures: the real network peers of tests/peers (see each module's docstring).

Every public module of tests/peers is a pytest plugin: adding a peer is adding a file.
"""

import os
import pkgutil
from pathlib import Path

import pytest

from netkit.cli.defaults import SAFE

# The suite never reads the developer's ~/.config/netkit/config.toml nor a NETKIT_TIMEOUT-style
# default from the shell (tests/test_config_defaults.py sets its own, in a temp HOME).
os.environ["NETKIT_CONFIG"] = ""
for _name in {n.upper().replace("-", "_") for names in SAFE.values() for n in names}:
    os.environ.pop(f"NETKIT_{_name}", None)
    for _table in SAFE:
        os.environ.pop(f"NETKIT_{_table.upper()}_{_name}", None)

pytest_plugins = sorted(
    f"tests.peers.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "peers")])
    if not m.name.startswith("_")
)


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    """A temp HOME with an empty ~/.config/netkit; no NETKIT_ or XDG_CONFIG_HOME variables."""
    home = tmp_path / "home"
    (home / ".config" / "netkit").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in [n for n in os.environ if n.startswith("NETKIT_") or n == "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name)
    return home


@pytest.fixture
def netrc_home(tmp_path, monkeypatch):
    """A HOME of the test's own, in this process too; no $NETRC."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    return home
