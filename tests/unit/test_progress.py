"""The progress display (netkit.cli.progress) rendered into a rich Console writing to a
StringIO, with a fake clock: the columns, their fitting to 40, 80 and 200 columns, lines
printed above the rows, and the silent display off a terminal."""

import io
import re

import pytest
from rich.console import Console

from netkit.cli.progress import Silent, open_display

MiB = 1024 * 1024
# Control sequences (colours, cursor moves, erasing) and the carriage returns of redraws.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Screen:
    """A display on a fake terminal ``width`` columns wide, its clock in our hands."""

    def __init__(self, width=80, transient=False):
        self.file = io.StringIO()
        self.now = 100.0
        self.display = open_display(None, console=Console(file=self.file, width=width, force_terminal=True),
                                    clock=lambda: self.now, auto_refresh=False, transient=transient)

    def frame(self) -> list:
        """The rows as the next redraw shows them."""
        mark = len(self.file.getvalue())
        self.display.refresh()
        return _CONTROL.sub("", self.file.getvalue()[mark:]).split("\n")

    def text(self) -> str:
        return _CONTROL.sub("", self.file.getvalue())


def test_a_transfer_row_says_percent_size_speed_and_time_left():
    screen = Screen(80)
    row = screen.display.task("file.iso")
    for second, done in enumerate((0, MiB // 2, MiB)):
        screen.now = 100.0 + second
        row(done, 4 * MiB)
    assert screen.frame() == ["file.iso ━━━━━━╺━━━━━━━━━━━━━━━━━  25.0% 1.0 MiB of 4.0 MiB 512.0 KiB/s ETA 0:06"]
    screen.now = 103.0
    row(4 * MiB, 4 * MiB, final=True)
    # The speed as rich estimates it: what moved after the first sample, over its time.
    assert screen.frame() == ["file.iso ━━━━━━━━━━━━━━━━━━━━━━━━━ 100.0% 4.0 MiB of 4.0 MiB 1.8 MiB/s 0:03 done"]


def test_an_unknown_size_counts_bytes_and_is_done_at_the_end():
    screen = Screen(80)
    row = screen.display.task("stream")
    (line,) = screen.frame()  # before its first report (queued, connecting)
    assert line.startswith("stream ━") and line.endswith(" waiting") and " B" not in line
    row(2048, None)
    screen.now = 102.0
    row(4096, None)
    (line,) = screen.frame()
    assert line.startswith("stream ") and line.endswith(" 4.0 KiB 1.0 KiB/s 0:02") and "%" not in line
    row(4096, None, final=True)
    (line,) = screen.frame()
    assert line.endswith(" 100.0% 4.0 KiB of 4.0 KiB 1.0 KiB/s 0:02 done")


def test_counted_rows_say_how_many_of_what_and_a_note():
    screen = Screen(80)
    scan = screen.display.task("scan", 65535, "ports")
    for second, (done, opened) in enumerate(((0, 0), (14750, 1), (29500, 3))):
        screen.now = 100.0 + second
        scan(done, note=f"{opened} open")
    (line,) = screen.frame()
    assert line == "scan ━━━━━━━━━━━━━━╺━━━━━━━━━━━━━━━━━  45.0% 29,500/65,535 ports 3 open ETA 0:03"
    mail = screen.display.task("fetch", None, "messages")
    mail(2, 4, note="1.5 KiB")
    _, mail_row = screen.frame()
    assert mail_row.startswith("fetch ━") and " 50.0%        2/4 messages 1.5 KiB 0:00" in mail_row  # aligned


@pytest.mark.parametrize("width", [40, 80, 200])
def test_rows_fit_the_width_and_never_wrap(width):
    screen = Screen(width)
    rows = [screen.display.task("file.iso"), screen.display.task("a-very-long-name-" * 15 + ".tar.gz"),
            screen.display.task("scan", 65535, "ports")]
    for second in range(3):
        screen.now = 100.0 + second
        rows[0](second * MiB, 4 * MiB)
        rows[1](second * 2048, None)
        rows[2](second * 20000, note=f"{second} open")
    lines = screen.frame()
    assert len(lines) == 3 and all(len(line) <= width for line in lines), lines
    assert lines[0].startswith("file.iso ") and lines[2].startswith("scan ")
    assert lines[1].startswith("a-very-long-na") and "…" in lines[1]
    if width >= 80:  # room for the bar and every figure
        assert all("━" in line for line in lines)
        assert "2.0 MiB of 4.0 MiB" in lines[0] and "40,000/65,535 ports 2 open" in lines[2]
    else:  # the most useful figures first: percent, note, time
        assert " 50.0%" in lines[0] and " 61.0% 2 open" in lines[2]


def test_a_name_from_a_server_cannot_drive_the_terminal():
    screen = Screen(80)
    screen.display.task("evil\x1b[2Jname\n")(1, 2)
    raw = screen.file.getvalue()
    assert "\x1b[2J" not in raw and "evil\\x1b[2Jname\\x0a" in screen.text()


def test_a_line_said_during_the_display_goes_above_the_rows_whole():
    screen = Screen(40)
    row = screen.display.task("a.bin")
    row(10, 100)
    screen.frame()
    long = "copied " + "x" * 60 + " (1.0 KiB)"
    screen.display.say(screen.file, long + "\n")
    screen.display.retire(row)
    screen.display.task("b.bin")(5, 100)
    text = screen.text()
    assert long in text  # one piece: rich put no newline into it
    assert text.index("a.bin") < text.index(long)  # said above the row, which is drawn again under it
    assert screen.frame() == ["b.bin   5.0% 5 B of 100 B 0:00"]
    # Another stream that is not this terminal (a file, a pipe) is written as it is.
    other = io.StringIO()
    screen.display.say(other, "deleted x\n")
    assert other.getvalue() == "deleted x\n"


def test_close_leaves_the_last_frame_or_erases_it():
    kept = Screen(80)
    kept.display.task("a.bin")(100, 100, final=True)
    kept.display.close()
    assert kept.text().rstrip("\n").endswith("100.0% 100 B of 100 B 0:00 done")
    gone = Screen(80, transient=True)
    gone.display.task("scan", 10, "ports")(10)
    gone.display.close()
    raw = gone.file.getvalue()
    assert raw.endswith("\x1b[2K") and "10/10 ports" in raw  # the last numbers drawn, then erased
    assert "\x1b[?25h" in raw  # the cursor shown again


def test_off_a_terminal_nothing_is_drawn_and_rich_is_not_needed():
    err = io.StringIO()
    display = open_display(err)
    assert isinstance(display, Silent) and display.task("x") is None
    display.say(err, "retry 1 of 3\n")
    display.close()
    assert err.getvalue() == "retry 1 of 3\n"
    assert isinstance(open_display(err, on=False), Silent)
