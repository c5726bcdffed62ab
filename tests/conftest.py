"""Shared fixtures: the real network peers of tests/peers (see each module's docstring)."""

pytest_plugins = [
    "tests.peers.certs",
    "tests.peers.nginx",
    "tests.peers.udp_echo",
    "tests.peers.tcp",
    "tests.peers.proxy",
]
