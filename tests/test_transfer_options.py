"""netkit.transfer's typed Options and Timeout on the wire: nginx for a download, a silent
TCP peer for a read phase that passes."""

import hashlib

import pytest

from netkit.core.errors import DeadlineError, TimedOut, UsageError
from netkit.core.timeout import Timeout
from netkit.transfer import Options, download
from tests.peers.nginx import BIG_SIZE


def test_a_download_with_a_timeout_and_a_checksum(nginx, tmp_path):
    dest = tmp_path / "big"
    digest = "sha256=" + hashlib.sha256(b"x" * BIG_SIZE).hexdigest()
    result = download(nginx.url("/big"), dest, Options(checksum=digest, retries=0),
                      timeout=Timeout(120, connect=5, read=30))
    assert result.size == BIG_SIZE and dest.stat().st_size == BIG_SIZE
    with pytest.raises(UsageError, match=r"Options\(checksum='sha256=12'\)"):
        download(nginx.url("/big"), tmp_path / "never", Options(checksum="sha256=12"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]


def test_the_read_phase_bounds_each_wait_not_the_whole(silent_tcp, tmp_path):
    """A server that accepts and says nothing: Timeout(read=1) ends the wait as a read
    timeout, long before the total of 10 s (without the read phase, each wait would be 30 s
    and the total would end it: a DeadlineError)."""
    url = f"http://{silent_tcp.host}:{silent_tcp.port}/file"
    with pytest.raises(TimedOut) as caught:
        download(url, tmp_path / "file", Options(retries=0, timeout=Timeout(10, read=1)))
    assert not isinstance(caught.value, DeadlineError)
    assert not (tmp_path / "file").exists() and not (tmp_path / "file.part").exists()
