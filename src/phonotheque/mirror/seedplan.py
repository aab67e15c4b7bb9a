"""Which torrents should a volunteer with N TB hold to add the most preservation value?

Value of a torrent = the share of the release's listens it preserves × its scarcity.

Scarcity is the probability that every copy out there now disappears: if each of the ``s`` current
seeders independently leaves the swarm (disk dies, volunteer quits) with probability ``churn``
over the horizon we care about, the torrent is lost unless someone else holds it with probability
``churn ** s``. Adding your copy removes that loss with probability ``1 - churn`` (you may leave
too), so the expected listens your copy saves is ``listens × churn ** s × (1 - churn)``; the last
factor is the same for every torrent and is dropped. With the default ``churn = 0.5`` a torrent
with no seeder is worth twice one with a single seeder and 1024× one with ten. Leechers hold
incomplete copies and do not count as seeders (they are reported). Without swarm data every
torrent has scarcity 1 and the plan simply maximises listens per byte.

The choice is a 0/1 knapsack (sizes = bytes on disk, capacity = ``disk``). We take torrents in
order of value density (value per byte), skipping any that no longer fit, then compare with the
single most valuable torrent that fits and keep the better of the two: that is never worse than
half the optimum, and the report states the actual bound — the LP relaxation (fill by density,
last torrent fractional) is an upper bound on any selection, so ``value / upper_bound`` is a
guaranteed fraction of the best possible plan (close to 1 when torrents are small next to the
disk). Metadata torrents (the catalog) are taken first when they fit: every other torrent is
useless without them. Torrents the volunteer already holds completely (``have``) are chosen at no
download; they still take their disk space.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from phonotheque.errors import MirrorError
from phonotheque.mirror.artifacts import ListedTorrent, load_torrent_list
from phonotheque.units import format_size, parse_size


@dataclass
class Swarm:
    seeders: int
    leechers: int


@dataclass
class Pick:
    rank: int
    name: str
    batch: int
    kind: str
    size: int
    download: int
    listens_share: float
    seeders: int | None
    leechers: int | None
    scarcity: float
    value: float
    held: str                       # no | partial | complete
    explanation: str


@dataclass
class SeedPlan:
    disk: int
    used: int
    download: int
    value: float
    upper_bound: float
    bound: float                    # value / upper_bound: a guaranteed fraction of the best possible
    listens_share: float
    churn: float
    picks: list[Pick]
    left_out: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- swarm data -------------------------------------------------------------------------------------
def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MirrorError(f"{where}: must be a non-negative integer, got {value!r}")
    return value


def _swarm_entry(raw: Any, where: str) -> Swarm:
    if not isinstance(raw, dict):
        raise MirrorError(f"{where}: must be an object with seeders and leechers")
    seeders = raw.get("seeders", raw.get("complete"))
    leechers = raw.get("leechers", raw.get("incomplete", 0))
    if seeders is None:
        raise MirrorError(f"{where}: has no 'seeders' (or scrape 'complete') count")
    return Swarm(_count(seeders, f"{where}.seeders"), _count(leechers, f"{where}.leechers"))


def load_swarm(path: str | Path) -> dict[str, Swarm]:
    """swarm.json → {key: Swarm}; keys are lower-case infohashes (v1, v2, or v2 truncated) or names."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise MirrorError(f"{path}: cannot read swarm data ({exc.strerror or exc})") from exc
    except orjson.JSONDecodeError as exc:
        raise MirrorError(f"{path}: not valid JSON ({exc})") from exc
    out: dict[str, Swarm] = {}
    if isinstance(doc, dict):
        items = [(str(k), v, f"{path}: {k!r}") for k, v in doc.items()]
    elif isinstance(doc, list):
        items = []
        for i, v in enumerate(doc):
            key = v.get("infohash", v.get("info_hash", v.get("name"))) if isinstance(v, dict) else None
            if not isinstance(key, str):
                raise MirrorError(f"{path}: entry [{i}] has no 'infohash' or 'name'")
            items.append((key, v, f"{path}: [{i}]"))
    else:
        raise MirrorError(f"{path}: swarm data must be an object keyed by infohash or a list")
    for key, raw, where in items:
        k = key.strip()
        k = k.lower() if all(c in "0123456789abcdefABCDEF" for c in k) else k
        if k in out:
            raise MirrorError(f"{where}: lists the same torrent twice")
        out[k] = _swarm_entry(raw, where)
    return out


def swarm_for(t: ListedTorrent, swarm: dict[str, Swarm]) -> Swarm | None:
    """Counts for a torrent; a hybrid seen in both its v1 and v2 swarms counts the larger (same peers)."""
    keys = [t.infohash_v1, t.infohash_v2, t.infohash_v2[:40] if t.infohash_v2 else None, t.name]
    found = [swarm[k] for k in dict.fromkeys(keys) if k and k in swarm]
    if not found:
        return None
    return Swarm(max(s.seeders for s in found), max(s.leechers for s in found))


# -- the plan --------------------------------------------------------------------------------------
def _held(have: str | Path | None, torrent_list: Path) -> tuple[dict[str, int], list[str]]:
    """name → bytes already held intact (quick verify of the volunteer's mirror)."""
    if have is None:
        return {}, []
    from phonotheque.mirror.verify import verify

    report = verify(have, torrent_list=torrent_list, quick=True)
    held = {t.name: t.bytes_ok for t in report.torrents if t.bytes_ok > 0 or (t.state == "complete" and t.intact)}
    complete = {t.name for t in report.torrents if t.state == "complete" and t.intact}
    return {n: (-1 if n in complete else b) for n, b in held.items()}, report.warnings


def seedplan(
    torrent_list: str | Path,
    *,
    disk: str | int,
    swarm: str | Path | None = None,
    have: str | Path | None = None,
    churn: float = 0.5,
) -> SeedPlan:
    """Choose torrents for ``disk`` bytes that preserve the most listens, weighted by scarcity."""
    capacity = parse_size(disk, what="--disk", allow_zero=False)
    if not 0.0 < churn < 1.0:
        raise MirrorError(f"--churn must be between 0 and 1 (exclusive), got {churn}")
    tl = load_torrent_list(torrent_list, parse_torrents=False)
    counts = load_swarm(swarm) if swarm is not None else None
    held, warnings = _held(have, Path(torrent_list))
    total_listens = sum(t.listens for t in tl.torrents) or 0.0
    unpublished = [t.name for t in tl.torrents if not t.published]
    if unpublished:
        warnings.append(f"{len(unpublished)} unpublished torrent(s) left out (not downloadable yet)")

    rows: list[dict[str, Any]] = []
    patch_rows: list[dict[str, Any]] = []   # patches torrents ride along with the audio of their batch
    for t in tl.torrents:
        if not t.published:
            continue
        share = t.listens / total_listens if total_listens > 0 else t.listens_share
        sw = swarm_for(t, counts) if counts is not None else None
        seeders = sw.seeders if sw is not None else (0 if counts is not None else None)
        scarcity = churn ** seeders if seeders is not None else 1.0
        h = held.get(t.name, 0)
        (patch_rows if t.kind == "metadata" and t.content == "patches" else rows).append({
            "t": t, "share": share, "sw": sw, "seeders": seeders, "scarcity": scarcity,
            "value": share * scarcity, "held": "complete" if h < 0 else "partial" if h > 0 else "no",
            "download": 0 if h < 0 else max(0, t.size - h),
        })

    def density(r: dict[str, Any]) -> float:
        size = r["t"].size
        return float("inf") if size <= 0 else r["value"] / size

    order = sorted(rows, key=lambda r: (-density(r), r["t"].batch, r["t"].name))
    chosen: list[dict[str, Any]] = []
    left = capacity
    forced = [r for r in rows if r["held"] == "complete"]
    forced += sorted((r for r in rows if r["t"].kind == "metadata" and r["held"] != "complete"),
                     key=lambda r: r["t"].size)
    for r in forced:
        if r["t"].size <= left or r["held"] == "complete":
            chosen.append(r)
            left -= r["t"].size
    if left < 0:
        warnings.append(f"the torrents already held take {format_size(capacity - left)}, more than --disk")
    taken = {id(r) for r in chosen}
    rest = [r for r in order if id(r) not in taken]
    base = max(left, 0)
    greedy = _fill(rest, base, [])
    best = max((r for r in rest if r["t"].size <= base), key=lambda r: r["value"], default=None)
    if best is not None:
        alt = _fill(rest, base, [best])
        if sum(r["value"] for r in alt) > sum(r["value"] for r in greedy):
            greedy = alt
    chosen += greedy
    left = capacity - sum(r["t"].size for r in chosen)
    # the patches that restore a batch's originals are only useful next to that batch's audio
    audio_batches = {r["t"].batch for r in chosen if r["t"].kind == "audio"}
    for r in sorted(patch_rows, key=lambda r: (r["t"].batch, r["t"].name)):
        if r["held"] == "complete" or (r["t"].batch in audio_batches and r["t"].size <= left):
            chosen.append(r)
            left -= r["t"].size
    # LP relaxation over the free choices (fill by density, the last one fractional): an upper bound
    ub = sum(r["value"] for r in forced if id(r) in taken)
    room = base
    for r in rest:
        if r["t"].size > base:
            continue  # can never fit: no feasible selection holds it
        if r["t"].size <= room:
            ub += r["value"]
            room -= r["t"].size
        else:
            ub += r["value"] * room / r["t"].size
            break
    value = sum(r["value"] for r in chosen)

    picks = []
    for i, r in enumerate(chosen, 1):
        lt_: ListedTorrent = r["t"]
        picks.append(Pick(
            rank=i, name=lt_.name, batch=lt_.batch, kind=lt_.kind, size=lt_.size, download=r["download"],
            listens_share=r["share"], seeders=r["seeders"], leechers=r["sw"].leechers if r["sw"] else None,
            scarcity=r["scarcity"], value=r["value"], held=r["held"], explanation=_explain(i, r, counts is not None),
        ))
    chosen_ids = {id(c) for c in chosen}
    left_out = [
        f"batch {r['t'].batch} ({r['t'].name}): {100 * r['share']:.1f} % of listens, {format_size(r['t'].size)}"
        f" does not fit ({format_size(max(left, 0))} left)"
        for r in order if id(r) not in chosen_ids
    ][:10]
    return SeedPlan(
        disk=capacity, used=capacity - left, download=sum(p.download for p in picks), value=value,
        upper_bound=max(ub, value), bound=value / max(ub, value) if ub > 0 else 1.0,
        listens_share=sum(p.listens_share for p in picks), churn=churn, picks=picks, left_out=left_out,
        warnings=warnings,
    )


def _fill(order: list[dict[str, Any]], room: int, start: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greedy by density: take every torrent that still fits, in order."""
    out = list(start)
    room -= sum(r["t"].size for r in start)
    ids = {id(r) for r in start}
    for r in order:
        if id(r) not in ids and r["t"].size <= room:
            out.append(r)
            room -= r["t"].size
    return out


def _explain(rank: int, r: dict[str, Any], have_swarm: bool) -> str:
    t: ListedTorrent = r["t"]
    if t.kind == "metadata" and t.content == "patches":
        what = f"metadata (patches that restore batch {t.batch}'s originals; with its audio)"
    elif t.kind == "metadata":
        what = "metadata (the catalog; taken first)"
    else:
        what = f"{100 * r['share']:.1f} % of listens"
    if r["seeders"] is None:
        seeds = "no swarm data"
    elif r["sw"] is None:
        seeds = "not in swarm data (counted as 0 seeders)"
    else:
        seeds = f"{r['seeders']} seeder{'s' if r['seeders'] != 1 else ''}"
        if r["sw"].leechers:
            seeds += f", {r['sw'].leechers} leecher{'s' if r['sw'].leechers != 1 else ''}"
    held = {"complete": ", already held", "partial": f", partly held: download {format_size(r['download'])}"}
    return f"#{rank} batch {t.batch}: {what}, {seeds}, {format_size(t.size)}{held.get(r['held'], '')}"


def summary_lines(plan: SeedPlan) -> list[str]:
    lines = [p.explanation for p in plan.picks]
    if not plan.picks:
        lines.append("nothing fits on this disk")
    lines.append(
        f"uses {format_size(plan.used)} of {format_size(plan.disk)}, download {format_size(plan.download)}; "
        f"preserves {100 * plan.listens_share:.1f} % of listens; value {plan.value:.4g} "
        f"(at least {100 * plan.bound:.1f} % of the best possible, churn {plan.churn})"
    )
    lines += [f"left out: {x}" for x in plan.left_out[:5]]
    lines += [f"warning: {w}" for w in plan.warnings]
    return lines
