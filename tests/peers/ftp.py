"""Session fixtures ``ftp_server`` and ``ftp_tls_required``: pyftpdlib in a child process.

One pyftpdlib process (the venv's python, run by :class:`ServerProcess`) serves two ports on
127.0.0.1 with the same users and files:

``ftp_server``         plain FTP; explicit FTPS (``AUTH TLS``, then ``PROT P`` for TLS data
                       connections) is offered but not required.
``ftp_tls_required``   ``USER``/``PASS`` before ``AUTH TLS`` get ``550 SSL/TLS required on the
                       control channel.``; transfers without ``PROT P`` get ``550 SSL/TLS
                       required on the data channel.``

Both present ``pki.good`` (names localhost, 127.0.0.1, ::1) after ``AUTH TLS``. Passive mode
(``PASV``/``EPSV``) only; pyftpdlib picks an ephemeral data port per transfer. Greeting:
``220 netkit test ftp ready``.

Attributes of the fixture value (:class:`Ftp`):

``host``          "127.0.0.1"
``port``          the control port (``ftp_tls_required.port`` is the TLS-only one)
``user``          "user" (constant ``USER``), read-write in ``home``
``password``      random for the session
``home``          the user's home directory (a Path): the fixture writes
                  ``hello.txt`` (``HELLO_CONTENT``), ``big.bin`` (``BIG_CONTENT``, 1 MiB of
                  bytes 0..255 repeated) and ``sub/nested.txt`` (``NESTED_CONTENT``)
``anon_root``     the anonymous root (login "anonymous", any password; read-only):
                  ``pub/readme.txt`` (``README_CONTENT``)
``tls``           True: ``AUTH TLS`` is supported
``tls_required``  False for ``ftp_server``, True for ``ftp_tls_required``
``tls_required_port``  the port of ``ftp_tls_required`` (on both values)
``log_file``      pyftpdlib's debug log (every command and reply; passwords masked)

The home directory is shared by the whole session: a test that uploads uses a unique name
and removes what it made. Writes by anonymous are refused (``550 Not enough privileges.``);
a wrong password gets ``530 Authentication failed.`` at once (pyftpdlib's usual 3 s delay is
off: ``AUTH_FAILED_DELAY``), and the third failure on one connection also disconnects
(``530 Authentication failed. Disconnecting.``).

``running_ftp(directory, pki)`` is the same server as a plain context manager.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.peers._base import ServerProcess, can_connect, free_port

if TYPE_CHECKING:  # the child process need not import trustme and cryptography
    from tests.peers.certs import Pki

HOST = "127.0.0.1"
USER = "user"
BANNER = "netkit test ftp ready"
HELLO_NAME = "hello.txt"
HELLO_CONTENT = b"hello netkit\n"
BIG_NAME = "big.bin"
BIG_SIZE = 1024 * 1024
BIG_CONTENT = bytes(range(256)) * (BIG_SIZE // 256)
SUB_DIR = "sub"
NESTED_NAME = "sub/nested.txt"
NESTED_CONTENT = b"nested file\n"
README_NAME = "pub/readme.txt"
README_CONTENT = b"anonymous ftp: read only\n"
# Entries of the user's home, as NLST lists them (sorted).
HOME_ENTRIES = (BIG_NAME, HELLO_NAME, SUB_DIR)
# pyftpdlib permissions: the user may do everything (list, retrieve, store, append,
# delete, rename, mkdir, ...), anonymous may only change directory, list and retrieve.
USER_PERM = "elradfmwMT"
ANON_PERM = "elr"
# Seconds an idle control connection is kept: longer than any test.
IDLE_TIMEOUT = 120
# Seconds before a failed login is answered (pyftpdlib's default is 3): tests want it fast.
AUTH_FAILED_DELAY = 0
# Repository root, put on the child's PYTHONPATH so it can import this module.
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ftp:
    """A running FTP server; see the module docstring."""

    host: str
    port: int
    user: str
    password: str
    home: Path
    anon_root: Path
    tls: bool
    tls_required: bool
    tls_required_port: int
    log_file: Path


def write_files(home: Path, anon_root: Path) -> None:
    """The files the fixture promises, in the user's home and the anonymous root."""
    (home / SUB_DIR).mkdir(parents=True, exist_ok=True)
    (home / HELLO_NAME).write_bytes(HELLO_CONTENT)
    (home / BIG_NAME).write_bytes(BIG_CONTENT)
    (home / NESTED_NAME).write_bytes(NESTED_CONTENT)
    (anon_root / "pub").mkdir(parents=True, exist_ok=True)
    (anon_root / README_NAME).write_bytes(README_CONTENT)


def serve(config_json: str) -> None:
    """The child process: run pyftpdlib on both ports until SIGTERM (see running_ftp)."""
    import logging

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

    config = json.loads(config_json)
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(message)s")
    authorizer = DummyAuthorizer()
    authorizer.add_user(config["user"], config["password"], config["home"], perm=USER_PERM)
    authorizer.add_anonymous(config["anon_root"], perm=ANON_PERM)

    class Handler(TLS_FTPHandler):
        banner = BANNER
        timeout = IDLE_TIMEOUT
        auth_failed_timeout = AUTH_FAILED_DELAY
        certfile = config["certfile"]
        keyfile = config["keyfile"]

    Handler.authorizer = authorizer
    if config.get("send_block"):
        # Bytes per sendfile() call (pyftpdlib's ac_out_buffer_size, 64 KiB by default): the
        # transfer benchmark raises it so that the server's event loop is not the limit.
        class Data(Handler.dtp_handler):
            ac_out_buffer_size = config["send_block"]

        Handler.dtp_handler = Data

    class TlsRequiredHandler(Handler):
        tls_control_required = True
        tls_data_required = True

    # Both servers register with the same (default) IOLoop: one loop serves both ports.
    plain = FTPServer((config["host"], config["port"]), Handler)
    FTPServer((config["host"], config["tls_required_port"]), TlsRequiredHandler)
    plain.serve_forever()


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
    }


@contextlib.contextmanager
def running_ftp(directory: Path, pki: Pki, send_block: int | None = None) -> Iterator[Ftp]:
    """Write the files under ``directory`` and run the server (retrying on a taken port);
    ``send_block``: bytes per sendfile() call instead of pyftpdlib's 64 KiB."""
    home = directory / "home"
    anon_root = directory / "anon"
    write_files(home, anon_root)
    password = secrets.token_urlsafe(12)
    log_file = directory / "ftp.log"
    ports: dict[str, int] = {}

    def factory(attempt: int) -> ServerProcess:
        ports["port"] = free_port(HOST)
        ports["tls_required_port"] = free_port(HOST)
        while ports["tls_required_port"] == ports["port"]:
            ports["tls_required_port"] = free_port(HOST)
        config = {
            "host": HOST,
            **ports,
            "user": USER,
            "password": password,
            "home": str(home),
            "anon_root": str(anon_root),
            "certfile": str(pki.good.cert),
            "keyfile": str(pki.good.key),
            "send_block": send_block,
        }
        return ServerProcess(
            "pyftpdlib",
            [
                sys.executable,
                "-c",
                "import sys; from tests.peers.ftp import serve; serve(sys.argv[1])",
                json.dumps(config),
            ],
            log_file=log_file,
            ready=lambda: all(can_connect(HOST, port) for port in ports.values()),
            env=_child_env(),
            cwd=directory,
        )

    with ServerProcess.start_with_retries(factory):
        yield Ftp(
            host=HOST,
            port=ports["port"],
            user=USER,
            password=password,
            home=home,
            anon_root=anon_root,
            tls=True,
            tls_required=False,
            tls_required_port=ports["tls_required_port"],
            log_file=log_file,
        )


@pytest.fixture(scope="session")
def ftp_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ftp]:
    """A running FTP server, AUTH TLS optional (see the module docstring)."""
    with running_ftp(tmp_path_factory.mktemp("ftp"), pki) as info:
        yield info


@pytest.fixture(scope="session")
def ftp_tls_required(ftp_server: Ftp) -> Ftp:
    """The same server's port that refuses USER/PASS before AUTH TLS."""
    return dataclasses.replace(ftp_server, port=ftp_server.tls_required_port, tls_required=True)
