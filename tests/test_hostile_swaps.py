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


def test_sftp_put_never_writes_through_a_link_planted_as_its_temporary(sshd, tmp_path):
    """On the server, ``.NAME.part -> victim`` (another user's trap): put removes the link and
    creates its temporary anew (exclusive create); the time is set through the handle."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    os.utime(victim, (1_000_000_000, 1_000_000_000))
    target = tmp_path / "remote"
    target.mkdir()
    os.symlink(victim, target / ".up.bin.part")
    src = tmp_path / "up.bin"
    src.write_bytes(b"uploaded\n")
    os.utime(src, (1_100_000_000, 1_100_000_000))
    code, _, err = run("put", src, f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{target}/", "--identity",
                       sshd.client_key, "--known-hosts", sshd.known_hosts)
    assert code == 0, err
    assert victim.read_bytes() == b"precious\n" and victim.stat().st_mtime == 1_000_000_000
    assert (target / "up.bin").read_bytes() == b"uploaded\n" and (target / "up.bin").stat().st_mtime == 1_100_000_000
    assert os.listdir(target) == ["up.bin"]


def test_ftp_put_never_writes_through_a_link_planted_as_its_temporary(ftp_server, tmp_path):
    """``.NAME.part -> victim`` on the server (inside the FTP root, so the server follows it):
    put deletes the link before its STOR."""
    name = f"trap-{os.getpid()}.bin"
    victim = ftp_server.home / f"victim-{name}"
    victim.write_bytes(b"precious\n")
    link = ftp_server.home / f".{name}.part"
    os.symlink(victim, link)
    src = tmp_path / "up.bin"
    src.write_bytes(b"uploaded\n")
    try:
        code, _, err = run("put", src, f"ftp://{ftp_server.user}@127.0.0.1:{ftp_server.port}/{name}",
                           "--password-env", "FTP_PW", env={"FTP_PW": ftp_server.password})
        assert code == 0, err
        assert victim.read_bytes() == b"precious\n"
        assert (ftp_server.home / name).read_bytes() == b"uploaded\n" and not os.path.lexists(link)
    finally:
        for path in (ftp_server.home / name, victim, link):
            if os.path.lexists(path):
                path.unlink()
