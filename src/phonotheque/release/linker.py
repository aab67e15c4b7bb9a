"""Seeding trees linked by a helper process while packaging builds the torrents.

``TreeLinker(root)`` starts ``python -I -S link_worker.py`` (standard library only, ~15 ms, on the other
core); ``link(staging, [(store path, path in torrent), ...])`` hands it a tree without waiting (a writer
thread feeds the helper's input, so a tree bigger than the pipe does not hold packaging up);
``wait(staging)`` returns how many files were hard linked (the others were copied: another filesystem)
or raises :class:`ReleaseError` naming the file that could not be linked or copied. ``close()`` ends the
helper after the last tree; ``discard()`` (an error or Ctrl-C in packaging) kills it and removes every
staging directory. If the helper is killed, ``wait`` says so; a killed packaging run closes the helper's
input, so it exits, and the next run clears the hidden staging directories it left.

When no helper can be started (no ``sys.executable``, or phonotheque imported from a zip archive), the
trees are linked in this process at ``wait``.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from phonotheque.errors import ReleaseError
from phonotheque.release import link_worker

_PIPE_BYTES = 1 << 20  # room for ~7000 files of a tree, or ~70 000 answers


class TreeLinker:
    def __init__(self, root: str | Path) -> None:
        self.root = f"{root}/"
        self.order: list[Path] = []  # trees handed over, in order (the helper answers in this order)
        self.answers: list[bytes] = []
        self.local: dict[Path, list[tuple[str, str]]] = {}
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        if sys.executable and Path(link_worker.__file__).is_file():  # not from a zip archive
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", link_worker.__file__], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    start_new_session=True)  # Ctrl-C goes to packaging, which then stops the helper
            except OSError:
                self.proc = None
        if self.proc is not None:
            _grow_pipe(self.proc.stdin)  # a tree is handed over without waiting for the helper to read it
            _grow_pipe(self.proc.stdout)  # and its answers (one short line per tree) never wait for us

    def link(self, staging: Path, files: list[tuple[str, str]]) -> None:
        """Queue a tree: ``files`` = (path of the stored file relative to the archive root, '/'-separated
        path inside the tree)."""
        self.order.append(staging)
        if self.proc is None:
            self.local[staging] = files
            return
        root = self.root
        text = "".join([f"T{staging}\0", *[f"S{root}{src}\0D{dst}\0" for src, dst in files], "E\0"])
        # a big tree (a 1 TB torrent: ~60 MB for 300 000 files) does not fit in the pipe: a writer thread,
        # blocked in write() without the GIL, hands it over while this thread goes on building torrents
        self.outbox.put(text.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()))
        if self.writer is None:
            self.writer = threading.Thread(target=self._write, name="phonotheque-linker-input", daemon=True)
            self.writer.start()

    def _write(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        stdin = self.proc.stdin
        while (data := self.outbox.get()) is not None:
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError):  # the helper is gone (wait() reports why) or discarded
                return

    def wait(self, staging: Path) -> int:
        """Files of tree ``staging`` that were hard linked; raises if the tree could not be made."""
        i = self.order.index(staging)
        if self.proc is None:
            stage = str(staging)
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            root = self.root
            return link_worker.link_tree((root + src, f"{stage}/{dst}") for src, dst in self.local.pop(staging))
        assert self.proc.stdout is not None
        while len(self.answers) <= i and (line := self.proc.stdout.readline()):
            self.answers.append(line)
        answer = self.answers[i] if len(self.answers) > i else b""  # b"": the helper has exited
        if answer.startswith(b"OK "):
            return int(answer.split()[1])
        if answer.startswith(b"ERR "):
            raise ReleaseError(f"seeding tree {staging.name.strip('.').removesuffix('.partial')}: cannot link or "
                               f"copy {answer[4:].decode('utf-8', 'replace').strip()}")
        self.proc.wait()
        err = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines() if self.proc.stderr else []
        raise ReleaseError(f"the seeding-tree linker stopped (exit status {self.proc.returncode})"
                           + (f": {err[-1]}" if err else ""))

    def close(self) -> None:
        """Let the helper finish the trees handed over and exit."""
        self._stop_writer()
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()
        self._close_pipes()

    def discard(self) -> None:
        """Stop at once and remove every tree handed over (packaging failed or was interrupted)."""
        if self.proc is not None:
            self.proc.kill()  # first: a writer blocked on a full pipe then fails and ends
            self.proc.wait()
            self._stop_writer()
            self._close_pipes()
        for staging in self.order:
            shutil.rmtree(staging, ignore_errors=True)

    def _stop_writer(self) -> None:
        if self.writer is not None:
            self.outbox.put(None)
            self.writer.join()
            self.writer = None

    def _close_pipes(self) -> None:
        if self.proc is None:
            return
        for pipe in (self.proc.stdin, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _grow_pipe(pipe: IO[bytes] | None) -> None:
    """Linux: a 1 MiB pipe instead of 64 KiB."""
    try:
        import fcntl

        if pipe is not None:
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass
