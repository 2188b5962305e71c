"""flash's progress: one bar for the runtime and the model together, with ETA, on a terminal;
plain lines at each quarter in a log; nothing with --quiet."""

import io

from micronn.cli_progress import FlashProgress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _flash(progress, port="/dev/ttyACM0"):
    progress.expect(port, {"models/m.mnq": 1000})
    progress.expect(port, {"lib/micronn/a.mpy": 2000, "lib/micronn/b.mpy": 1000})
    for label, total in (("lib/micronn/a.mpy", 2000), ("lib/micronn/b.mpy", 1000)):
        for done in range(0, total + 1, 500):
            progress(port, label, done, total)
    progress.expect(port, {"models/m.mnq": 1000})  # a session started again: no new bytes
    for done in range(0, 1001, 250):
        progress(port, "models/m.mnq", done, 1000)


def test_one_bar_for_the_whole_flash_on_a_terminal():
    stream = Terminal()
    _flash(FlashProgress(fleet=False, stream=stream))
    updates = stream.getvalue().split("\r")[1:]
    shares = [int(update.split("]")[1].split("%")[0]) for update in updates]
    assert shares == sorted(shares) and shares[-1] == 100
    assert "3.9/3.9 KiB" in updates[-1] and "ETA" in updates[-1]
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_plain_lines_in_a_log_and_nothing_when_quiet():
    log = io.StringIO()
    _flash(FlashProgress(fleet=False, stream=log))
    lines = log.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["0%", "25%", "50%", "75%", "100%"]
    assert all(line.startswith("/dev/ttyACM0: flash ") and "ETA" in line for line in lines)
    quiet = Terminal()
    _flash(FlashProgress(fleet=False, quiet=True, stream=quiet))
    assert quiet.getvalue() == ""
