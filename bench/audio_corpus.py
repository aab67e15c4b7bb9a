"""A benchmark corpus of real audio: >= N GB of distinct files built from the Debian music corpora.

The Debian packages (singularity-music, fretsonfire-songs-muldjord, drascula-music; see
/work/shared/corpora/README.md) hold ~115 MB of real Ogg Vorbis. This module copies them
repeatedly into ``dest/copyNNN/<package>/<name>.ogg`` and gives every copy distinct bytes by
writing a different ``COMMENT`` tag with mutagen (the audio packets are untouched), so a
content-addressed store sees each copy as a new file while decoders see real music.

Other benchmarks reuse it::

    from audio_corpus import ensure          # bench/ is on sys.path when running bench scripts
    files = ensure(Path("/work/benchdata/audio"), gigabytes=1.0)

``ensure`` is idempotent: it keeps what is already built (a manifest lists the files) and only
adds copies until the size is reached. Run it alone to build the default corpus::

    .venv/bin/python bench/audio_corpus.py [--gigabytes 1.0] [--dest /work/benchdata/audio]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mutagen

DEFAULT_DEST = Path("/work/benchdata/audio")
CORPORA = Path(os.environ.get("PHONOTHEQUE_CORPORA", "/work/corpora"))
PACKAGES = ("singularity-music", "fretsonfire-songs-muldjord", "drascula-music")
FETCH = Path("/work/shared/corpora/fetch-debian-music.sh")
MANIFEST = "MANIFEST.txt"


SONGS = PACKAGES[:2]  # full-length songs only (3.4 MB on average, as the reference archive's 3.5 MB), no game cues


def source_files(corpora: Path = CORPORA, packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Every real (non-symlink) .ogg of the packages, sorted; fetches the packages if missing."""
    missing = [p for p in packages if not (corpora / p).is_dir()]
    if missing:
        if not FETCH.exists():
            raise SystemExit(f"corpora missing under {corpora} and no fetch script at {FETCH}")
        subprocess.run(["sh", str(FETCH), str(corpora), *missing], check=True)
    out: list[Path] = []
    for pkg in packages:
        for path in sorted((corpora / pkg).rglob("*.ogg")):
            if path.is_file() and not path.is_symlink():
                out.append(path)
    return out


def _make_copy(src: Path, dst: Path, index: int) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    audio = mutagen.File(tmp)
    if audio is None:
        raise SystemExit(f"{src}: mutagen cannot read it")
    if audio.tags is None:
        audio.add_tags()
    audio.tags["COMMENT"] = [f"phonotheque benchmark copy {index} of {src.name}"]
    audio.save()
    os.replace(tmp, dst)


def _read_manifest(dest: Path) -> list[Path]:
    path = dest / MANIFEST
    if not path.exists():
        return []
    return [dest / line for line in path.read_text(encoding="utf-8").splitlines() if line]


def ensure(dest: Path = DEFAULT_DEST, gigabytes: float = 1.0, *, verbose: bool = False,
           packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Build (or reuse) at least ``gigabytes`` GB of distinct real audio under ``dest`` (from ``packages``:
    keep one ``dest`` per choice of packages).

    Returns the smallest prefix of the corpus (in build order, whole copies of single files)
    whose total size reaches the target, so ``gigabytes=0.1`` on a 1 GB corpus gives ~100 MB.
    """
    target = int(gigabytes * 1e9)
    dest.mkdir(parents=True, exist_ok=True)
    files = [p for p in _read_manifest(dest) if p.exists()]
    total = sum(p.stat().st_size for p in files)
    if total < target:
        sources = source_files(packages=packages)
        index = len({p.relative_to(dest).parts[0] for p in files})
        while total < target:
            copy_dir = dest / f"copy{index:03d}"
            for src in sources:
                rel = src.relative_to(CORPORA).parts
                # fretsonfire has one song.ogg/guitar.ogg per song folder: keep the folder in the name
                dst = copy_dir / rel[0] / (src.name if rel[0] != PACKAGES[1] else f"{rel[-2]}-{src.name}")
                if dst in files:
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    _make_copy(src, dst, index)
                files.append(dst)
                total += dst.stat().st_size
                if verbose:
                    print(f"\r{total / 1e9:.2f} GB", end="", file=sys.stderr, flush=True)
            index += 1
            tmp = dest / (MANIFEST + ".tmp")
            tmp.write_text("".join(f"{p.relative_to(dest)}\n" for p in files), encoding="utf-8")
            os.replace(tmp, dest / MANIFEST)
        if verbose:
            print(file=sys.stderr)
    out: list[Path] = []
    acc = 0
    for p in files:
        if acc >= target:
            break
        out.append(p)
        acc += p.stat().st_size
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    ap.add_argument("--gigabytes", type=float, default=1.0)
    args = ap.parse_args()
    files = ensure(args.dest, args.gigabytes, verbose=True)
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size / 1e9:.3f} GB under {args.dest}")


if __name__ == "__main__":
    main()
