"""The whole pipeline on the bundled sample: what ``make demo`` runs.

Builds (or resumes) an archive in ``out`` from the real MusicBrainz releases and the real
free-licensed audio excerpts under ``tests/data`` plus a generated synthetic catalog, then runs
every stage once: import → listens → plan → ingest → transcode → tag → package → verify →
seedplan → report. Every step is resumable, so running the demo twice does no work twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from phonotheque.archive import Archive
from phonotheque.errors import PhonothequeError

Say = Callable[[str], None]
ProgressFactory = Callable[[str], AbstractContextManager[Callable[..., None]]]

SYNTH_TRACKS = 20_000


def find_sample_dir(sample: str | Path | None = None) -> Path:
    """The sample data: ``--sample DIR``, else ``tests/data`` of the source checkout."""
    candidates = [Path(sample)] if sample else []
    here = Path(__file__).resolve()
    candidates += [here.parents[2] / "tests" / "data", Path.cwd() / "tests" / "data"]
    for c in candidates:
        if (c / "musicbrainz" / "releases.jsonl").exists():
            return c
    raise PhonothequeError(
        "demo: sample data not found (run from a source checkout of phonotheque, or pass --sample DIR "
        "pointing at its tests/data)"
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return obj
    for name in ("to_dict", "as_dict"):
        if hasattr(obj, name):
            return dict(getattr(obj, name)())
    return {"result": repr(obj)}


def _pick(d: dict[str, Any], *keys: str) -> str:
    return ", ".join(f"{k}={d[k]}" for k in keys if k in d and not isinstance(d[k], list | dict))


def demo(
    out: str | Path,
    *,
    sample: str | Path | None = None,
    say: Say = print,
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """Run the pipeline on the sample into ``out``; returns every step's summary."""
    factory: ProgressFactory = progress or (lambda _d: nullcontext(lambda *a, **k: None))

    @contextmanager
    def bar(description: str) -> Iterator[Callable[..., None]]:
        # stages report progress with slightly different keywords; the demo only counts items
        with factory(description) as advance:
            yield lambda n=1, *a, **k: advance(n)

    data = find_sample_dir(sample)
    archive = Archive.init(out, {"archive.name": "phonotheque demo archive", "store.piece_size": 256 * 1024})
    results: dict[str, Any] = {"archive": str(archive.root)}
    t0 = time.monotonic()

    from phonotheque.catalog.importers import import_source
    from phonotheque.catalog.synth import write_jsonl

    say(f"archive: {archive.root}")
    say("\n== 1. catalog: import real MusicBrainz releases and a synthetic catalog")
    r = _as_dict(import_source(archive, data / "musicbrainz" / "releases.jsonl", format="musicbrainz",
                               source_name="musicbrainz-sample", licence="CC0-1.0"))
    say(f"musicbrainz-sample: {_pick(r, 'records', 'inserted', 'updated', 'unchanged', 'rejected')}")
    synth = archive.root / "sample-synthetic.jsonl"
    if not synth.exists():
        tmp = synth.with_suffix(".tmp")
        write_jsonl(tmp, SYNTH_TRACKS, seed=1)
        tmp.replace(synth)
    with bar("importing synthetic catalog") as advance:
        r2 = _as_dict(import_source(archive, synth, format="jsonl", source_name="synthetic",
                                    licence="CC0-1.0", progress=advance))
    say(f"synthetic: {_pick(r2, 'records', 'inserted', 'updated', 'unchanged', 'rejected')}")
    results["import"] = [r, r2]

    from phonotheque.catalog.search import search
    from phonotheque.catalog.shuffle import shuffle
    from phonotheque.catalog.stats import stats

    st = stats(archive)
    results["stats"] = st
    say("\n== 2. stats, search, shuffle")
    say(_pick(st, "tracks", "artists", "albums", "recordings", "isrcs", "unique_isrcs"))
    hits = search(archive, "rumours dreams", limit=3)
    for h in hits:
        say(f"search 'rumours dreams': {h.get('name')} — {h.get('artists') or ''} [{h.get('album') or ''}, "
            f"album {h.get('album_id')}, ISRC {h.get('isrc')}]")
    for t in shuffle(archive, n=3, seed=7):
        say(f"shuffle: {t.get('name') or t.get('title')} (track {t.get('id')})")

    say("\n== 3. the archive's own catalog of the sample audio, then ingest the audio")
    r3 = _as_dict(import_source(archive, data / "demo" / "catalog.jsonl", format="jsonl", source_name="demo-catalog",
                                licence="CC-BY-SA-3.0"))
    say(f"demo-catalog: {_pick(r3, 'records', 'inserted', 'updated', 'unchanged', 'rejected')}")
    results["import"].append(r3)
    from phonotheque.store.ingest import ingest

    with bar("ingesting") as advance:
        ing = _as_dict(ingest(archive, [data / "audio"], progress=advance))
    results["ingest"] = ing
    say("ingest (hash, probe, full decode, fingerprint, match, store): "
        + _pick(ing, "files", "stored", "duplicates", "alternatives", "matched", "new_tracks", "quarantined", "skipped"))
    for err in ing.get("errors", [])[:5]:
        say(f"  quarantined: {Path(err.get('path', '')).name}: {err.get('status')}: {err.get('reason')}")

    say("\n== 4. plan: the reference archive's rules, and the budget-optimal policy at the same budget")
    from phonotheque.plan.planner import plan

    unlimited = plan(archive, budget=None, policy="reference")
    p = plan(archive, budget=max(unlimited.bytes, 1), policy="reference", compare=True)
    results["plan"] = _as_dict(p)
    say("reference: " + p.sentence())
    cmp = results["plan"].get("compare") or {}
    other = cmp.get("other") or {}
    if other:
        lost = cmp.get("weighted_listens_lost") or {}
        say(f"optimal:   {other.get('files', 0):,} files = {100 * other.get('share_of_tracks', 0):.1f} % of tracks = "
            f"{100 * other.get('share_of_listens', 0):.2f} % of listens in the same bytes; weighted listens lost: "
            f"{lost.get('optimal', 0):,.0f} vs {lost.get('reference', 0):,.0f} "
            f"({cmp.get('lost_ratio_reference_to_optimal', 0):.1f}x fewer)")

    say("\n== 5. transcode the long tail to Opus; tag originals, keeping patches that restore them")
    from phonotheque.store.tagging import tag
    from phonotheque.store.transcode import transcode

    with bar("transcoding") as advance:
        tr = _as_dict(transcode(archive, progress=advance))
    say("transcode: " + _pick(tr, "planned", "done_before", "succeeded", "failed", "missing_original"))
    with bar("tagging") as advance:
        tg = _as_dict(tag(archive, progress=advance))
    say("tag:       " + _pick(tg, "planned", "done_before", "succeeded", "failed", "missing_original"))
    results["transcode"], results["tag"] = tr, tg

    say("\n== 6. package release 'demo': hybrid torrents, file index, torrent list")
    from phonotheque.release.package import package

    pk = _as_dict(package(archive, release="demo", target_size="1MB"))
    results["package"] = pk
    say(_pick(pk, "tracks_planned", "tracks_packaged", "tracks_pending", "size", "padded_size", "links"))
    for t in pk.get("torrents", [])[:6]:
        say(f"  {t.get('name')}: {t.get('file_count')} files, {t.get('size')} bytes, "
            f"v1 {str(t.get('infohash_v1'))[:12]}…, v2 {str(t.get('infohash_v2'))[:12]}…")

    from phonotheque.release.package import publish

    publish(archive, release="demo")
    say("published: torrents.json now lists the batches as published (they are never rewritten)")

    say("\n== 7. verify the seeding tree as a mirror would; plan what to seed with 1 MB of disk")
    from phonotheque.mirror import seedplan as seedplan_mod
    from phonotheque.mirror import verify as verify_mod

    rel = archive.releases_dir / "demo"
    vr = verify_mod.verify(rel / "data", release_dir=rel)
    results["verify"] = {k: v for k, v in _as_dict(vr).items() if not isinstance(v, list)}
    for line in verify_mod.summary_lines(vr, limit=5):
        say(line)
    sp = seedplan_mod.seedplan(rel / "torrents.json", disk="1MB")
    results["seedplan"] = _as_dict(sp)
    for line in seedplan_mod.summary_lines(sp)[:8]:
        say(line)

    say("\n== 8. report")
    from phonotheque.report.build import report

    path = report(archive, out=archive.reports_dir / "report")
    results["report"] = str(path)
    say(f"report: {path}")
    say(f"\ndone in {time.monotonic() - t0:.1f} s — explore with: phonotheque -h  (archive: {archive.root})")
    say(f"browse it: phonotheque serve -A {archive.root}  (web pages and JSON API on http://127.0.0.1:8080/)")
    archive.close()
    return results
