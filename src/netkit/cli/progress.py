"""The progress display of every command that moves or counts things (get, put, mirror,
scan, ssh get/put, mail fetch, packets arp): one `rich.progress`_ display on standard
error, only when standard error is a terminal.

rich is imported only then: in a pipe, under cron or a Nagios plugin, :func:`open_display`
returns :class:`Silent`, which draws nothing and imports nothing (a test pins this with
``python -X importtime``). The library reports progress through callbacks with plain
values (``report(done, total, final)``, ``on_progress(done, opened)``...); the commands
turn them into the rows of this display.

One display, rows of one shape, columns composed as rich composes them::

    file.iso ━━━━━━╺━━━━━━━━━━━━━━━━━  25.0%   1.0 MiB of 4.0 MiB        512.0 KiB/s ETA 0:06
    scan     ━━━━━━━━━━╺━━━━━━━━━━━━━  45.0% 29,500/65,535 ports 3 open             ETA 0:03
    queued   ━━━━━━━━━━━━━━━━━━━━━━━━                                               waiting

A row is a rich task: its name, a total (bytes when it has no unit, else ``unit``s such
as ports or hosts) and a note. The columns are fitted to the terminal's width at every
redraw (:func:`_fit`; rich takes the width from the terminal, or COLUMNS when set): the
most useful that fit, in their order, the name cut with an ellipsis, the bar given what
is left. A line never wraps, so the display never tears, at
40 columns as at 200. A line printed while it shows (a copied file, a retry) goes through
:meth:`Display.say`: rich prints it above the rows and draws them again under it.

.. _rich.progress: https://rich.readthedocs.io/en/stable/progress.html
"""

import os

__all__ = ["Display", "Silent", "open_display"]

# Redraws a second: rich's default, smooth to the eye and cheap (the library's callbacks
# only record numbers; nothing is drawn when they come, however often).
REFRESH_PER_SECOND = 10
# Seconds between two updates of a row's numbers in rich (its speed samples).
UPDATE_EVERY = 0.05
# The bar: not drawn narrower than this (a shorter one tells nothing), nor wider (a wide
# terminal gives the room to the name instead).
BAR_MIN, BAR_MAX = 10, 40
# The name keeps at least this many columns before a column of figures is left out.
NAME_MIN = 12


def open_display(err, on=True, *, transient=False, console=None, clock=None, auto_refresh=True):
    """The display for ``err``: a :class:`Display` when ``on`` and ``err`` is a terminal
    (not TERM=dumb), else :class:`Silent`. ``transient``: the rows are erased at the end
    (scan, ssh, mail: the results follow), else the last frame stays (get, put: the
    finished transfers, "done"). ``console``, ``clock`` and ``auto_refresh=False`` are
    for tests: a ``rich.console.Console`` writing into a StringIO, a fake clock, and
    redraws only on :meth:`Display.refresh`."""
    if console is None and not (on and _is_terminal(err)):
        return Silent()
    return Display(err, transient=transient, console=console, clock=clock, auto_refresh=auto_refresh)


def _is_terminal(stream) -> bool:
    from netkit.cli.shell import is_terminal

    return os.environ.get("TERM") != "dumb" and is_terminal(stream)


class Silent:
    """No display: the commands' calls cost nothing and print nothing; ``task`` gives None,
    which the library takes for "no callback"."""

    def task(self, name, total=None, unit=None):
        return None

    def retire(self, task):
        pass

    def say(self, stream, text: str) -> None:
        stream.write(text)
        stream.flush()

    def refresh(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Task:
    """One row. ``task(done, total=..., final=False, note=...)`` records where it is: the
    signature of the transfer library's ``report(done, total, final)`` callback. The total
    given once at :meth:`Display.task` stays unless another is given.

    A call only records the numbers; they go to rich at most every UPDATE_EVERY seconds
    (and at the end): a scan reports every port, tens of thousands a second."""

    _KEEP = object()

    def __init__(self, progress, task_id, total, clock):
        self.progress, self.id, self.clock = progress, task_id, clock
        self.done, self.total, self.note = 0, total, None
        self.started = False
        self.sent = float("-inf")

    def __call__(self, done, total=_KEEP, final=False, note=None):
        self.done = done
        if total is not Task._KEEP:
            self.total = total
        if note is not None:
            self.note = note
        if not self.started:
            self.started = True
            self.progress.start_task(self.id)
        if final:  # an unknown size is known once all of it is there: the row says done
            self.progress.update(self.id, completed=done)  # the last speed sample
            row = next(t for t in self.progress.tasks if t.id == self.id)
            speed = row.speed  # before a new total makes rich forget the samples
            self.total = done
            self.flush()
            row.finished_speed = row.finished_speed or speed
            self.progress.stop_task(self.id)
        elif (now := self.clock()) - self.sent >= UPDATE_EVERY:
            self.sent = now
            self.flush()

    def flush(self):
        fields = {} if self.note is None else {"note": self.note}
        try:
            self.progress.update(self.id, completed=self.done, total=self.total, **fields)
        except KeyError:  # retired by another thread in between
            pass


class Display:
    """The rows on a terminal. Started at the first row (nothing is drawn, the cursor not
    hidden, before there is something to show); :meth:`close` (or the ``with`` block's
    end, Ctrl-C included) stops it and gives the terminal back."""

    def __init__(self, err, *, transient=False, console=None, clock=None, auto_refresh=True):
        import threading
        import time

        from rich.console import Console

        self.err = err
        self.console = console or Console(file=err, highlight=False, soft_wrap=False)
        self.progress = _fitted_progress()(
            *_columns(), console=self.console, transient=transient, auto_refresh=auto_refresh,
            refresh_per_second=REFRESH_PER_SECOND, redirect_stdout=False, redirect_stderr=False,
            get_time=clock)
        self.clock = clock or time.monotonic
        self.lock = threading.Lock()  # one start, rows added from several threads (get -P)
        self.live = False
        self.tasks = []

    def task(self, name: str, total=None, unit=None) -> Task:
        """A new row named ``name``: bytes when ``unit`` is None, else ``unit``s (ports,
        hosts, messages) of which there are ``total`` (None: not known yet)."""
        from netkit.core.text import for_terminal

        with self.lock:
            if not self.live:
                self.progress.start()
                self.live = True
        task_id = self.progress.add_task(for_terminal(str(name)), total=total, start=False, unit=unit, note="")
        self.tasks.append(Task(self.progress, task_id, total, self.clock))
        return self.tasks[-1]

    def retire(self, task) -> None:
        """Take a finished row away (mirror: "copied NAME" is said in its place)."""
        if task is not None:
            self.tasks.remove(task)
            self.progress.remove_task(task.id)

    def say(self, stream, text: str) -> None:
        """Print ``text`` (whole lines) on ``stream`` without tearing the rows: through
        rich's console, above them, when ``stream`` is this terminal; as it is otherwise
        (standard output to a file or a pipe does not touch the screen)."""
        if not (self.live and _same_terminal(stream, self.err)):
            stream.write(text)
            stream.flush()
            return
        from rich.text import Text

        for line in text.removesuffix("\n").split("\n"):
            # soft_wrap: the terminal wraps a long line; rich inserts no newline in it.
            self.console.print(Text(line), soft_wrap=True, highlight=False, markup=False, emoji=False)

    def refresh(self) -> None:
        self._flush()
        self.progress.refresh()

    def close(self) -> None:
        with self.lock:
            if self.live:
                self.live = False
                self._flush()  # the last frame shows the last numbers
                self.progress.stop()

    def _flush(self):
        for task in list(self.tasks):
            if task.started:
                task.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _same_terminal(stream, err) -> bool:
    if stream is err:
        return True
    try:
        if not stream.isatty():
            return False
        a, b = os.fstat(stream.fileno()), os.fstat(err.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# --- the columns ---------------------------------------------------------------------------

def _clock(seconds) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _size(n) -> str:
    from netkit.core.text import format_size

    return format_size(int(n))


def _percent(task) -> str:
    return f"{min(100.0, 100.0 * task.completed / task.total):5.1f}%" if task.total else ""


def _amount(task) -> str:
    if not task.started:
        return ""
    unit = task.fields.get("unit")
    if unit is None:
        done = _size(task.completed)
        return f"{done} of {_size(task.total)}" if task.total is not None else done
    total = f"/{int(task.total):,}" if task.total is not None else ""
    return f"{int(task.completed):,}{total} {unit}"


def _speed(task) -> str:
    if task.fields.get("unit") is not None:
        return ""
    speed = task.finished_speed or task.speed
    return f"{_size(speed)}/s" if speed is not None else ""


def _time(task) -> str:
    """Running: the time left when it can be told, else the time so far; then "done".
    Before its first report (a queued file, a login): "waiting"."""
    if task.elapsed is None:
        return "waiting"
    if task.finished:
        return f"{_clock(task.elapsed)} done"
    left = task.time_remaining if task.total else None
    return f"ETA {_clock(left)}" if left is not None else _clock(task.elapsed)


# (what a cell says, its justification, its rank: the lower ranks are kept first when the
# terminal is narrow, its style in rich's theme). The name comes first and the bar second; neither is in this table.
_FIGURES = (
    (_percent, "right", 1, "progress.percentage"),
    (_amount, "right", 4, "progress.download"),
    (lambda task: task.fields.get("note", ""), "left", 2, "progress.description"),
    (_speed, "right", 5, "progress.data.speed"),
    (_time, "left", 3, "progress.remaining"),
)


def _columns():
    """The columns, rich's way: ProgressColumn objects rendering one task each."""
    from rich.progress import BarColumn, ProgressColumn
    from rich.text import Text

    class Figure(ProgressColumn):
        def __init__(self, say, justify, rank, style):
            super().__init__()
            self.say, self.justify, self.rank, self.style = say, justify, rank, style

        def render(self, task):
            return Text(self.say(task), style=self.style)

    class Name(ProgressColumn):
        def render(self, task):
            return Text(task.description)

    return (Name(), BarColumn(), *(Figure(*spec) for spec in _FIGURES))


_FITTED: list[type] = []


def _fitted_progress():
    """rich's Progress, its table fitted to the width at each redraw (built once, on first
    use: the class needs rich, which the module does not import)."""
    if not _FITTED:
        from rich.progress import Progress

        class Fitted(Progress):
            def make_tasks_table(self, tasks):
                tasks = [t for t in tasks if t.visible]  # none yet while Progress.__init__ runs
                return _fit(self.columns, tasks, self.console.width if tasks else 0)

        _FITTED.append(Fitted)
    return _FITTED[0]


def _fit(columns, tasks, width):
    """The rows as a grid no wider than ``width``: the figures that fit beside NAME_MIN
    columns of name (by rank, shown in their order), then the name whole if the bar keeps
    BAR_MIN, the bar the rest up to BAR_MAX; a name too long is cut with an ellipsis."""
    from rich.table import Column, Table

    name, bar, *figures = columns
    names = [name(task) for task in tasks]
    cells = {id(c): [c(task) for task in tasks] for c in figures}
    widths = {id(c): max((text.cell_len for text in cells[id(c)]), default=0) for c in figures}
    longest = max((text.cell_len for text in names), default=0)
    least = min(longest, NAME_MIN)
    room = width - least  # for the figures, one column before each
    chosen = []
    for column in sorted((c for c in figures if widths[id(c)]), key=lambda c: c.rank):
        if widths[id(column)] + 1 <= room:
            chosen.append(column)
            room -= widths[id(column)] + 1
    room += least  # what the name and the bar share: the name first
    bar_width = max(BAR_MIN, min(BAR_MAX, room - longest - 1)) if room - least - 1 >= BAR_MIN else 0
    name_width = max(0, min(longest, room - (bar_width + 1 if bar_width else 0)))
    shown = [c for c in figures if c in chosen]
    grid = Table.grid(Column(width=name_width, no_wrap=True, overflow="ellipsis"), padding=(0, 1))
    if bar_width:
        grid.add_column(width=bar_width, no_wrap=True)
    for column in shown:
        grid.add_column(width=widths[id(column)], justify=column.justify, no_wrap=True)
    bar.bar_width = bar_width or None
    for i, task in enumerate(tasks):
        row = [names[i]] + ([bar(task)] if bar_width else []) + [cells[id(c)][i] for c in shown]
        grid.add_row(*row)
    return grid
