"""Shared fixtures: the real network peers of tests/peers (see each module's docstring).

Every public module of tests/peers is a pytest plugin: adding a peer is adding a file.
"""

import pkgutil
from pathlib import Path

pytest_plugins = sorted(
    f"tests.peers.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "peers")])
    if not m.name.startswith("_")
)
