"""Progress bars: drawn on a terminal, absent (and not even imported) when stderr is a pipe or a file."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

TRACKS = Path(__file__).resolve().parents[1] / "data" / "import" / "tracks.jsonl"
EXE = str(Path(sys.executable).with_name("phonotheque"))


def _init(tmp_path: Path) -> Path:
    archive = tmp_path / "a"
    subprocess.run([EXE, "init", str(archive)], check=True, capture_output=True)
    return archive


def test_no_bar_and_no_rich_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    archive = _init(tmp_path)
    code = (
        "import sys\n"
        "from phonotheque.cli.main import main\n"
        f"sys.argv = ['phonotheque', 'import', '-A', {str(archive)!r}, {str(TRACKS)!r}, '--format', 'jsonl']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('rich.progress' in sys.modules, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stderr.strip().splitlines()[-1] == "False"
    assert "\x1b[" not in run.stderr and "\x1b[" not in run.stdout  # no escape codes in logs


def test_a_bar_is_drawn_on_a_terminal(tmp_path: Path) -> None:
    archive = _init(tmp_path)
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([EXE, "import", "-A", str(archive), str(TRACKS), "--format", "jsonl"],
                                stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        seen = b""
        while True:  # read until the terminal closes (the process exited)
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: no writer left
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert b"\x1b[?25l" in seen  # rich hid the cursor to draw the live bar
    assert b"import tracks.jsonl" in seen  # the bar's description
