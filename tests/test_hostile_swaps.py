"""A temporary is used through the descriptor netkit opened, never again by its name
(issue 12): a ``.part`` swapped for a link to a victim while the download runs neither
receives the resume validator (an extended attribute) nor is renamed onto the destination."""

import os

from tests.peers.hostile_deadline_http import ETAG
from tests.peers.transfer_tools import run

XATTR = "user.netkit.validator"


def test_a_part_swapped_for_a_link_during_get_is_neither_marked_nor_renamed(swapping_http, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    dest = tmp_path / "out"
    swapping_http.swap = (str(dest) + ".part", str(victim))
    code, _, err = run("get", swapping_http.url(), "-o", dest, "--retry", "0")
    assert code == 1 and "was replaced while it was written: not renamed" in err, err
    assert len(err.strip().splitlines()) == 1
    assert victim.read_bytes() == b"precious\n" and XATTR not in os.listxattr(victim)
    assert not os.path.lexists(dest)  # the planted link did not become the destination
    moved = swapping_http.moved  # the file get opened kept what it was given
    assert open(moved, "rb").read() == b"swapped\n" and os.getxattr(moved, XATTR) == ETAG.encode()
