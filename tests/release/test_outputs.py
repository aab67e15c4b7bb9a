"""Release outputs: the file index, streamed in bounded batches."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard
from release_fixtures import Builder, Spec, build_sample, new_archive

from phonotheque.archive import Archive
from phonotheque.release import outputs
from phonotheque.release.package import package, publish


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as z:
        return list(csv.reader(io.TextIOWrapper(z, encoding="utf-8", newline="")))


def _archive(root: Path, n: int) -> Archive:
    a = new_archive(root)
    b = Builder(a)
    with a.transaction():
        for i in range(n):
            b.add(Spec(f"Song {i}", artist=f"Artist {i % 3}", album=f"Album {i % 4}", number=i, size=3_000 + 17 * i,
                       listens=100 - i, popularity=90 - i))
    return a


def test_index_streams_in_bounded_batches_with_the_same_content(tmp_path: Path) -> None:
    a = _archive(tmp_path / "a", 23)
    package(a, release="r", target_size="40KB", metadata=False)   # several torrents
    publish(a, release="r")
    with a.transaction():
        Builder(a).add(Spec("Late", artist="Z", album="Z", size=5_000, listens=1))
    package(a, release="r", target_size="40KB", metadata=False)   # published + new torrents in one index
    whole = tmp_path / "whole"
    small = tmp_path / "small"
    rows = outputs.write_index(a.conn, "r", whole)
    assert rows == 24 == outputs.write_index(a.conn, "r", small, batch_rows=5)
    big, streamed = pq.ParquetFile(whole / "files.parquet"), pq.ParquetFile(small / "files.parquet")
    assert streamed.metadata.num_row_groups == 5   # ceil(24 / 5): never more than 5 rows held at once
    assert streamed.read().to_pylist() == big.read().to_pylist()
    assert _csv_rows(small / "files.csv.zst") == _csv_rows(whole / "files.csv.zst")
    table = big.read().to_pylist()
    # release order: batch by batch, in each torrent by offset
    torrents = [r["torrent"] for r in table]
    assert torrents == sorted(torrents)
    for name in set(torrents):
        offsets = [r["offset"] for r in table if r["torrent"] == name]
        assert offsets == sorted(offsets)
    assert not [p for p in whole.iterdir() if p.name.startswith(".")]   # no temporary file left


def test_empty_index_has_its_columns(tmp_path: Path) -> None:
    a = _archive(tmp_path / "a", 0)
    assert outputs.write_index(a.conn, "nothing", tmp_path / "i") == 0
    assert pq.read_table(tmp_path / "i" / "files.parquet").schema.names == outputs.INDEX_SCHEMA.names
    assert _csv_rows(tmp_path / "i" / "files.csv.zst") == [outputs.INDEX_SCHEMA.names]


@pytest.mark.parametrize("batch_rows", [3, outputs.INDEX_BATCH_ROWS])
def test_index_written_during_packaging_equals_the_one_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 batch_rows: int) -> None:
    """A first packaging writes the index from its batches, not from the database; it must be byte for byte
    what the database gives afterwards (shared files, tagged copies, re-encodes, Unicode
    names, missing ISRCs, several torrents, row groups cut inside a torrent)."""
    monkeypatch.setattr(outputs, "INDEX_BATCH_ROWS", batch_rows)
    a = new_archive(tmp_path / "a")
    b = build_sample(a)
    with a.transaction():
        b.add(Spec("Shared A", artist="S", album="One", number=1, seed=4242, size=9_000, listens=7.5))
        b.add(Spec("Shared B", artist="S", album="Two", number=2, seed=4242, size=9_000, listens=7.25))
        tid = b.add(Spec("Tagged", artist="T", album="T", size=11_000, listens=5))
        orig = a.conn.execute("SELECT file_id FROM track_files WHERE track_id = ?", (tid,)).fetchone()[0]
        tagged = b.store_file(11_500, ".flac", 778, derived_from=orig)
        tagged_sha = a.conn.execute("SELECT sha256 FROM files WHERE id = ?", (tagged,)).fetchone()[0]
        a.conn.execute("UPDATE files SET sha256_with_embedded_meta = ? WHERE id = ?", (tagged_sha, orig))
    real = outputs.write_index
    with monkeypatch.context() as m:  # the index must come from the batches, not from the database
        m.setattr(outputs, "write_index", lambda *args, **kw: pytest.fail("index read back from the database"))
        package(a, release="r", target_size="100KB", metadata=False)
    assert outputs.write_index is real
    made = a.releases_dir / "r" / "index"
    rows = pq.read_table(made / "files.parquet").to_pylist()
    assert len({r["torrent"] for r in rows}) > 3 and any(r["sha256_original"] for r in rows)
    assert len({r["path"] for r in rows}) < len(rows)  # a file serving two tracks
    again = tmp_path / "again"
    assert outputs.write_index(a.conn, "r", again, batch_rows=batch_rows) == len(rows)
    for name in ("files.parquet", "files.csv.zst"):
        assert (made / name).read_bytes() == (again / name).read_bytes(), name
    assert not [p for p in made.iterdir() if p.name.startswith(".")]
