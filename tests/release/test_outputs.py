"""Release outputs: the file index, streamed in bounded batches."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
import zstandard
from release_fixtures import Builder, Spec, new_archive

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
