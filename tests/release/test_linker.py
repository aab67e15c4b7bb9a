"""The seeding-tree linker: a helper process making hard links while packaging goes on, and its failures."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from release_fixtures import Builder, Spec, new_archive

from phonotheque.archive import Archive
from phonotheque.errors import ReleaseError
from phonotheque.release.linker import TreeLinker
from phonotheque.release.package import package


def _store(root: Path, names: list[str]) -> list[tuple[str, str]]:
    (root / "store").mkdir(parents=True)
    files = []
    for i, name in enumerate(names):
        (root / "store" / f"{i}.ogg").write_bytes(f"audio {i}".encode())
        files.append((f"store/{i}.ogg", name))
    return files


def _children() -> set[int]:
    """Live linker helpers started by this test process (from /proc)."""
    kids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        kids.update(int(p) for p in text.split())
    live = set()
    for k in kids:
        try:
            alive = Path(f"/proc/{k}/stat").read_text().split(") ")[-1][:1] != "Z"
            command = Path(f"/proc/{k}/cmdline").read_bytes()
        except FileNotFoundError:  # exited meanwhile
            continue
        if alive and b"link_worker.py" in command:
            live.add(k)
    return live


def test_trees_are_hard_links_with_unicode_names_in_the_order_given(tmp_path: Path) -> None:
    names = ["a/Ünïcode ✓/01 x.ogg", "a/Ünïcode ✓/02 y.ogg", "b/עברית/03 z.ogg", "c/emoji 🎵.ogg"]
    files = _store(tmp_path, names)
    linker = TreeLinker(tmp_path)
    try:
        one, two = tmp_path / ".one.partial", tmp_path / ".two.partial"
        linker.link(one, files[:3])
        linker.link(two, files[3:])
        assert linker.wait(two) == 1  # answers can be taken in any order
        assert linker.wait(one) == 3
    finally:
        linker.close()
    for (src, name), tree in zip(files, [one, one, one, two], strict=True):
        made, stored = tree / name, tmp_path / src
        assert made.read_bytes() == stored.read_bytes()
        assert os.stat(made).st_ino == os.stat(stored).st_ino  # a hard link, not a copy
    assert linker.proc is not None and linker.proc.returncode == 0


def test_a_file_that_cannot_be_linked_is_named(tmp_path: Path) -> None:
    files = _store(tmp_path, ["x/1.ogg", "x/2.ogg"])
    (tmp_path / files[1][0]).unlink()
    linker = TreeLinker(tmp_path)
    try:
        linker.link(tmp_path / ".t.partial", files)
        with pytest.raises(ReleaseError, match=r"seeding tree t: cannot link or copy .*store/1\.ogg: No such file"):
            linker.wait(tmp_path / ".t.partial")
        linker.link(tmp_path / ".u.partial", files[:1])  # the helper goes on with the next tree
        assert linker.wait(tmp_path / ".u.partial") == 1
    finally:
        linker.discard()
    assert not (tmp_path / ".t.partial").exists() and not (tmp_path / ".u.partial").exists()


def test_a_tree_bigger_than_the_pipe_is_handed_over_without_waiting(tmp_path: Path) -> None:
    """A 1 TB torrent holds ~300 000 files (~60 MB of paths): handing it over must not wait for the helper,
    which is stopped here (SIGSTOP) so that it reads nothing."""
    linker = TreeLinker(tmp_path)
    assert linker.proc is not None
    os.kill(linker.proc.pid, signal.SIGSTOP)
    try:
        big = [(f"store/{i:06d}.ogg", f"pop 00-09/Artist {i % 97}/Album {i % 1000}/{i:06d} {'x' * 150}.ogg")
               for i in range(12_000)]  # ~3.3 MB, more than the 1 MiB pipe
        hand_over = threading.Thread(target=linker.link, args=(tmp_path / ".big.partial", big), daemon=True)
        hand_over.start()
        hand_over.join(timeout=2.0)
        returned = not hand_over.is_alive()
    finally:
        os.kill(linker.proc.pid, signal.SIGCONT)
        linker.discard()  # kills the helper: a write still blocked on the full pipe fails
        hand_over.join(timeout=10)
    assert returned, "link() waited for the helper to read the tree"
    assert not (tmp_path / ".big.partial").exists()


def test_a_killed_helper_is_reported_not_waited_for(tmp_path: Path) -> None:
    files = _store(tmp_path, ["x/1.ogg"])
    linker = TreeLinker(tmp_path)
    assert linker.proc is not None
    os.kill(linker.proc.pid, signal.SIGKILL)
    linker.proc.wait()
    linker.link(tmp_path / ".t.partial", files)
    with pytest.raises(ReleaseError, match=r"the seeding-tree linker stopped \(exit status -9\)"):
        linker.wait(tmp_path / ".t.partial")
    linker.discard()


def _archive(tmp_path: Path, n: int = 40, last_size: int | None = None) -> Archive:
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction():
        for i in range(n):
            size = last_size if last_size and i == n - 1 else 20_000 + i
            b.add(Spec(f"S{i}", artist=f"A{i % 3}", album=f"B{i % 5}", number=i, size=size))
    return a


def test_packaging_stops_when_a_tree_cannot_be_made_and_commits_nothing(tmp_path: Path) -> None:
    a = _archive(tmp_path, last_size=os.stat(tmp_path).st_size)  # the size of a directory here
    gone = a.conn.execute("SELECT store_path FROM files ORDER BY id DESC LIMIT 1").fetchone()[0]
    (a.root / gone).unlink()
    (a.root / gone).mkdir()  # a directory where the last batch's file was: the store check passes, linking fails
    with pytest.raises(ReleaseError, match=f"cannot link or copy .*{gone}: Is a directory"):
        package(a, release="r", target_size="100KB", metadata=False)
    rel = a.releases_dir / "r"
    for sub in ("data", "torrents", "index"):  # no tree, no torrent, no (temporary) index file
        assert list((rel / sub).iterdir()) == [], sub
    assert a.conn.execute("SELECT count(*) FROM torrents").fetchone()[0] == 0
    assert _children() == set()


def test_ctrl_c_during_packaging_stops_the_helper_and_removes_the_trees(tmp_path: Path) -> None:
    a = _archive(tmp_path)
    calls = []

    def progress(*args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) == 3:  # two torrents built, their trees handed to the helper
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        package(a, release="r", target_size="100KB", metadata=False, progress=progress)
    assert list((a.releases_dir / "r" / "data").iterdir()) == []
    assert _children() == set()
    result = package(a, release="r", target_size="100KB", metadata=False)  # and a re-run completes
    assert result.links == 40 and result.copies == 0


def test_without_an_interpreter_to_start_the_trees_are_linked_in_process(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    a = _archive(tmp_path, 12)
    monkeypatch.setattr("sys.executable", "")  # embedded Python: no helper can be started
    result = package(a, release="r", target_size="100KB", metadata=False)
    assert result.links == 12 and result.copies == 0
    rel = a.releases_dir / "r"
    assert sorted(p.name for p in (rel / "data").iterdir()) == sorted(t.name for t in result.torrents)
    assert sum(1 for p in (rel / "data").rglob("*") if p.is_file()) == 12
