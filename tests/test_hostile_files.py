"""Nothing is written where it must not be (issue 12): hostile FTP and SFTP listings, planted
links where a ``.part`` goes, two downloads into one file, endless trees, devices and
/proc files over SFTP, report files of ``scan``, and garbage FTP servers.

Every test runs the real command against a real (hostile) peer of tests/peers and then
looks at the whole directory around the destination: nothing outside it may change."""

import os
import stat

import pytest

from tests.helpers import ssh_auth
from tests.peers.hostile_files_ftp import content
from tests.peers.transfer_tools import run

REFUSED = 8  # hostile names of /trav (both peers): ../evil ../../evil sub/../../../evil ABS '' a/b nul ../up


def snapshot(root, skip):
    """{path: (mode, size, mtime, data)} of everything under ``root`` but ``skip`` (the
    mtime of files and links: a directory's changes when an entry is made in it)."""
    found = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(top, d) != str(skip)]
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            data = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else None  # noqa: SIM115
            found[path] = (st.st_mode, st.st_size, None if stat.S_ISDIR(st.st_mode) else st.st_mtime, data)
    return found


def tree(root):
    return sorted(os.path.relpath(os.path.join(top, n), root) for top, dirs, files in os.walk(root)
                  for n in dirs + files)


def victim(tmp_path):
    """A file that a link planted by an attacker points to; its state, to compare after."""
    path = tmp_path / "victim"
    path.write_bytes(b"precious\n")
    os.chmod(path, 0o600)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path, snapshot(tmp_path, None)[str(path)]


# -- 1. a remote name is never a path -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["names", "list"])
def test_mirror_ftp_refuses_names_that_leave_the_destination(hostile_ftp, tmp_path, mode):
    server = hostile_ftp(mode, outside=tmp_path / "outside")
    dest = tmp_path / "a" / "b" / "dest"
    dest.parent.mkdir(parents=True)
    before = snapshot(tmp_path, dest)
    code, out, err = run("mirror", server.url("/top/"), dest, "--retry", "0")
    assert code == 1, err
    assert tree(dest) == ["good.txt", "sub", "sub/inner.txt"]
    assert (dest / "good.txt").read_bytes() == content("good.txt")
    assert snapshot(tmp_path, dest) == before  # nothing outside the destination changed
    lines = err.splitlines()
    # LIST cannot carry an empty name (the line has no ninth field): one fewer
    assert len(lines) == REFUSED - (mode == "list") and all("refused" in line for line in lines), err
    assert "'../evil'" in err and "'nul\\x00name'" in err and b"2 copied" in out
    if mode == "list":
        assert "MLSD top" in server.commands and "LIST top" in server.commands
        code, out, err = run("mirror", server.url("/top/"), dest)  # LIST + MDTM: unchanged is unchanged
        assert b"0 copied (0 B), 2 unchanged" in out, out


def test_mirror_sftp_and_ssh_get_refuse_names_that_leave_the_destination(hostile_sftp, tmp_path):
    dest = tmp_path / "a" / "b" / "dest"
    dest.parent.mkdir(parents=True)
    before = snapshot(tmp_path, dest)
    code, out, err = run("mirror", hostile_sftp.url("/trav"), dest, "--known-hosts", hostile_sftp.known_hosts)
    assert code == 1, err
    assert tree(dest) == ["good.txt", "sub", "sub/inner.txt"]
    assert len(err.splitlines()) == REFUSED and err.count("refused") == REFUSED, err
    host = f"tester@127.0.0.1:{hostile_sftp.port}"
    code, out, err = run("ssh", "get", "--known-hosts", hostile_sftp.known_hosts, "-F", "none", "--no-agent", host,
                         "/trav", tmp_path / "a" / "b" / "sshdest")
    assert code == 1 and "refused" in err, err
    assert tree(tmp_path / "a" / "b" / "sshdest" / host) == ["trav", "trav/good.txt", "trav/sub",
                                                               "trav/sub/inner.txt"]
    assert snapshot(tmp_path, dest) == {**before, **{p: v for p, v in snapshot(tmp_path, dest).items()
                                                     if "sshdest" in p}}


def test_a_planted_link_out_of_the_destination_is_not_followed(hostile_ftp, hostile_sftp, tmp_path):
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    for scheme in ("ftp", "sftp"):
        dest = tmp_path / f"dest-{scheme}"
        dest.mkdir()
        os.symlink(elsewhere, dest / "sub")  # dest/sub -> etc: sub/inner.txt would land in etc
        if scheme == "ftp":
            code, _, err = run("mirror", hostile_ftp("names").url("/top/"), dest)
        else:
            code, _, err = run("mirror", hostile_sftp.url("/trav"), dest, "--known-hosts", hostile_sftp.known_hosts)
        assert code == 1 and "sub/inner.txt: local" in err and "link out of" in err, err
        assert os.listdir(elsewhere) == [] and (dest / "good.txt").exists()
    inside = tmp_path / "dest-inside"
    (inside / "real").mkdir(parents=True)
    os.symlink("real", inside / "sub")  # a link that stays inside is fine
    code, _, err = run("mirror", hostile_ftp("names").url("/top/"), inside)
    assert code == 1 and "link out of" not in err and (inside / "real" / "inner.txt").exists(), err


# -- 2. .part files are never written through a link ---------------------------------------------

def test_part_links_and_hard_links_are_refused_by_get_mirror_ssh_get_and_scan(hostile_ftp, hostile_sftp, tmp_path):
    target, before = victim(tmp_path)
    server = hostile_ftp("names")
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(target, work / "f.bin.part")
    for extra in ((), ("-c",)):
        code, _, err = run("get", server.url("/f.bin"), "-o", work / "f.bin", *extra)
        assert code == 1 and "f.bin.part is a symbolic link" in err and err.count("\n") == 1, err
    os.unlink(work / "f.bin.part")
    os.link(target, work / "f.bin.part")
    code, _, err = run("get", server.url("/f.bin"), "-o", work / "f.bin")
    assert code == 1 and "hard links" in err, err
    os.unlink(work / "f.bin.part")

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    os.symlink(target, mirror / "good.txt.part")
    code, _, err = run("mirror", server.url("/top/"), mirror)
    assert "good.txt.part is a symbolic link" in err and (mirror / "sub" / "inner.txt").exists()
    replaced = tmp_path / "replaced"
    replaced.mkdir()
    os.symlink(target, replaced / "good.txt")  # the file's own name a link: replaced, not followed
    code, _, err = run("mirror", server.url("/top/"), replaced)
    assert not os.path.islink(replaced / "good.txt") and (replaced / "good.txt").read_bytes() == content("good.txt")

    host = f"tester@127.0.0.1:{hostile_sftp.port}"
    sshdest = tmp_path / "sshdest" / host / "sub"
    sshdest.mkdir(parents=True)
    os.symlink(target, sshdest / "inner.txt.part")
    code, _, err = run("ssh", "get", "--known-hosts", hostile_sftp.known_hosts, "-F", "none", "--no-agent", host,
                       "/trav/sub", tmp_path / "sshdest")
    assert code == 1 and "inner.txt.part is a symbolic link" in err, err

    for flag in ("-oX", "-oG"):
        os.symlink(target, work / f"report{flag}.part")
        code, _, err = run("scan", "127.0.0.1", "-p", "1", flag, work / f"report{flag}")
        assert code == 0 and (work / f"report{flag}").read_bytes(), err
        assert os.path.islink(work / f"report{flag}.part")
    assert snapshot(tmp_path, None)[str(target)] == before  # content, mode and time untouched


# -- 3. two downloads, one destination --------------------------------------------------------------

def test_two_downloads_into_one_file_are_refused_before_any_transfer(hostile_ftp, tmp_path):
    server = hostile_ftp("names")
    code, _, err = run("get", server.url("/a/f.txt"), server.url("/b/f.txt"), cwd=tmp_path)
    assert code == 2 and "would both be written to f.txt" in err, err
    code, _, err = run("get", server.url("/a/1"), server.url("/b/2"), "-o", "x", "-o", "./x", cwd=tmp_path)
    assert code == 2 and "would both be written" in err, err
    assert os.listdir(tmp_path) == [] and not [c for c in server.commands if c.startswith("RETR")]
    code, _, err = run("get", server.url("/a/1"), server.url("/b/2"), "-o", "x", "-o", "y", cwd=tmp_path)
    assert code == 0 and sorted(os.listdir(tmp_path)) == ["x", "y"], err


# -- 4. endless trees ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["loop", "loopu"])
def test_ftp_mirror_of_an_endless_tree_ends(hostile_ftp, tmp_path, mode):
    code, _, err = run("mirror", hostile_ftp(mode).url("/top/"), tmp_path / "d", timeout=120)
    assert code == 1 and err.count("\n") == 1 and "directory not followed" in err, err
    assert (tmp_path / "d" / "f.txt").exists()
    if mode == "loopu":  # the unique fact names the loop at once
        assert "'again': directory not followed (listed before" in err


def test_sftp_mirror_and_ssh_get_of_an_endless_tree_end(hostile_sftp, tmp_path):
    code, _, err = run("mirror", hostile_sftp.url("/loop"), tmp_path / "d", "--known-hosts", hostile_sftp.known_hosts,
                       timeout=120)
    assert code == 1 and err.count("\n") == 1 and "deeper than 64" in err, err
    code, _, err = run("ssh", "get", "--known-hosts", hostile_sftp.known_hosts, "-F", "none", "--no-agent",
                       f"tester@127.0.0.1:{hostile_sftp.port}", "/loop", tmp_path / "s", timeout=120)
    assert code == 1 and "deeper than 64" in err, err


# -- 5. devices and /proc over SFTP ----------------------------------------------------------------

def test_sftp_get_reads_proc_files_to_the_end_and_refuses_devices(sshd, tmp_path):
    args = ("--identity", sshd.client_key, "--known-hosts", sshd.known_hosts)
    base = f"sftp://{sshd.user}@{sshd.host}:{sshd.port}"
    code, _, err = run("get", f"{base}/proc/self/status", "-o", tmp_path / "status", *args)
    assert code == 0 and b"Name:" in (tmp_path / "status").read_bytes(), err
    for device, what in (("/dev/zero", "character device"), ("/dev/null", "character device")):
        code, _, err = run("get", f"{base}{device}", "-o", tmp_path / "dev", *args, "--retry", "0")
        assert code == 1 and what in err and err.count("\n") == 1, err
        assert not os.path.exists(tmp_path / "dev") and not os.path.exists(tmp_path / "dev.part")


def test_ssh_get_reads_proc_files_to_the_end_and_refuses_devices(ssh_fleet, tmp_path):
    host = ssh_fleet.host_args()[0]
    code, _, err = run("ssh", "get", *ssh_auth(ssh_fleet), host, "/proc/self/status", tmp_path)
    assert code == 0 and b"Name:" in (tmp_path / host / "status").read_bytes(), err
    code, _, err = run("ssh", "get", *ssh_auth(ssh_fleet), host, "/dev/zero", tmp_path)
    assert code == 1 and "character device" in err, err
    assert not os.path.exists(tmp_path / host / "zero") and not os.path.exists(tmp_path / host / "zero.part")


# -- 6. scan's report files --------------------------------------------------------------------

def test_scan_checks_its_report_files_before_scanning(tmp_path):
    code, out, err = run("scan", "127.0.0.1", "-p", "1", "-oX", tmp_path / "no" / "dir" / "x.xml")
    assert code == 2 and "no such directory" in err and not out, err
    (tmp_path / "D").mkdir()
    code, out, err = run("scan", "127.0.0.1", "-p", "1", "-oG", tmp_path / "D")
    assert code == 2 and "is a directory" in err and not out, err
    assert os.listdir(tmp_path) == ["D"] and os.listdir(tmp_path / "D") == []


# -- 7. usage errors and garbage FTP servers ---------------------------------------------------

def test_mirror_to_an_empty_name_is_a_usage_error(hostile_ftp):
    code, _, err = run("mirror", hostile_ftp("names").url("/top/"), "")
    assert code == 2 and "empty name" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("mode, said", [
    ("random", "not text"), ("nocode", "unexpected reply"), ("endless", "more than 8192 bytes"),
    ("prelim", "more than 1000 lines"), ("pasv0", "port 0"), ("pasvbig", "port 256743"),
])
def test_a_garbage_ftp_server_is_a_protocol_error(hostile_ftp, tmp_path, mode, said):
    code, _, err = run("get", hostile_ftp(mode).url("/f.bin"), "-o", tmp_path / "f", "--retry", "0",
                       "--timeout", "5", timeout=30)
    assert code == 1 and said in err and err.count("\n") == 1 and "internal error" not in err, err
    assert os.listdir(tmp_path) == []
    code, _, err = run("mirror", hostile_ftp(mode).url("/top/"), tmp_path / "m", "--retry", "0", "--timeout", "5",
                       timeout=30)
    assert code == 1 and "internal error" not in err and err.count("\n") == 1, err


def test_a_passive_reply_naming_another_host_goes_to_the_server_only(hostile_ftp, tmp_path):
    code, _, err = run("get", hostile_ftp("pasvother").url("/f.bin"), "-o", tmp_path / "f", "--timeout", "5")
    assert code == 0 and (tmp_path / "f").read_bytes() == content("f.bin"), err


def test_ftp_commands_never_carry_cr_lf_or_nul(hostile_ftp, tmp_path):
    server = hostile_ftp("names")
    base = f"ftp://tester:secret@127.0.0.1:{server.port}"
    for url in (f"{base}/a%0D%0ADELE%20x", f"{base}/a%00b", f"ftp://us%0Aer:pw@127.0.0.1:{server.port}/a"):
        code, _, err = run("get", url, "-o", tmp_path / "x")
        assert code == 2 and "CR, LF or NUL" in err and err.count("\n") == 1, err
        code, _, err = run("mirror", url + "/", tmp_path / "m")
        assert code == 2 and "CR, LF or NUL" in err and err.count("\n") == 1, err
    assert server.commands == [] and os.listdir(tmp_path) == []


# -- 8. which side failed ----------------------------------------------------------------------

def test_a_local_failure_says_it_is_local(hostile_ftp, tmp_path):
    (tmp_path / "file").write_text("a file, not a directory\n")
    code, _, err = run("get", hostile_ftp("names").url("/f.bin"), "-o", tmp_path / "file" / "f")
    assert code == 1 and "on this machine" in err and err.count("\n") == 1, err
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").write_text("a file where the listing has a directory\n")
    code, _, err = run("mirror", hostile_ftp("names").url("/top/"), dest)
    assert "sub/inner.txt: local" in err and "is not a directory" in err, err


# -- 9. the same class elsewhere: local sources that are not files --------------------------------

def test_file_urls_of_pipes_and_devices_are_refused_and_proc_is_read_whole(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for source in (tmp_path / "fifo", "/dev/zero"):
        code, _, err = run("get", f"file://{source}", "-o", tmp_path / "out", timeout=20)
        assert code == 1 and "is not a regular file" in err and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == ["fifo"]
    code, _, err = run("get", "file:///proc/self/status", "-o", tmp_path / "status")
    assert code == 0 and b"Name:" in (tmp_path / "status").read_bytes(), err


def test_ssh_put_sends_proc_files_whole_and_refuses_devices(ssh_fleet, tmp_path):
    host = ssh_fleet.host_args()[0]
    code, _, err = run("ssh", "put", *ssh_auth(ssh_fleet), host, "/proc/self/status", tmp_path / "in")
    assert code == 0 and b"Name:" in (tmp_path / "in" / "status").read_bytes(), err
    code, _, err = run("ssh", "put", *ssh_auth(ssh_fleet), host, "/dev/zero", tmp_path / "in")
    assert code != 0 and "not a regular file" in err, err
    assert sorted(os.listdir(tmp_path / "in")) == ["status"]


def test_a_local_name_with_cr_is_one_failed_file_not_a_stopped_mirror(ftp_server, tmp_path):
    src = tmp_path / "site"
    src.mkdir()
    (src / "ok.txt").write_bytes(b"fine\n")
    (src / "bad\r\nDELE ok.txt").write_bytes(b"a name an attacker left in the tree\n")
    top = f"crname-{os.getpid()}"
    try:
        code, out, err = run("mirror", src, f"ftp://{ftp_server.user}@127.0.0.1:{ftp_server.port}/{top}/",
                             "--password-env", "FTP_PW", env={"FTP_PW": ftp_server.password})
        assert code == 1 and "CR, LF or NUL" in err and err.count("\n") == 1, err
        assert os.listdir(ftp_server.home / top) == ["ok.txt"]
    finally:
        import shutil

        shutil.rmtree(ftp_server.home / top, ignore_errors=True)


def test_a_symlink_loop_on_a_real_sftp_server_is_not_followed(sshd, ssh_fleet, tmp_path):
    remote = tmp_path / "remote"
    (remote / "d").mkdir(parents=True)
    (remote / "d" / "f.txt").write_bytes(b"once\n")
    os.symlink("..", remote / "d" / "up")  # d/up/d/up/... for ever, if links were followed
    os.symlink(".", remote / "d" / "here")
    code, _, err = run("mirror", f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{remote}", tmp_path / "m",
                       "--identity", sshd.client_key, "--known-hosts", sshd.known_hosts, timeout=60)
    assert code == 0 and tree(tmp_path / "m") == ["d", "d/f.txt"], err
    host = ssh_fleet.host_args()[0]
    code, _, err = run("ssh", "get", *ssh_auth(ssh_fleet), host, remote / "d", tmp_path / "s", timeout=60)
    assert code == 0 and tree(tmp_path / "s" / host) == ["d", "d/f.txt"], err


def test_ssh_get_globs_over_hostile_listings_end_in_one_line(hostile_sftp, tmp_path):
    host = f"tester@127.0.0.1:{hostile_sftp.port}"
    opts = ("--known-hosts", hostile_sftp.known_hosts, "-F", "none", "--no-agent", host)
    code, _, err = run("ssh", "get", *opts, "/loop/**/f.txt", tmp_path / "a", timeout=120)
    assert code == 1 and "a directory loop on the server?" in err, err
    code, _, err = run("ssh", "get", *opts, "/trav/*", tmp_path / "b", timeout=60)
    assert code == 1 and "not one" in err, err
    assert not os.path.exists(tmp_path / "b" / "evil") and not os.path.exists(tmp_path / "evil")
