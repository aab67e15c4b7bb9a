"""The planner core: pure functions on numpy columns (no SQLite), linear time, bounded memory.

Two policies decide, per track, *skip / re-encode / original*:

* ``reference`` — the reference archive's hand rules (see :func:`plan_columns`);
* ``optimal`` — a multiple-choice knapsack: each track offers the items of the upper convex hull of
  its options (skip, re-encode, original) as *incremental* items (value, size); items are taken in
  decreasing efficiency (weighted listens per MB) while the running byte sum stays under the
  budget. This is the greedy that is optimal for the fractional relaxation and within one item of
  the integral optimum.

Both select "a prefix of items ordered by key under a byte budget". Instead of sorting all items
(8+ bytes per item), :func:`_select_prefix` finds the cut with two 65,536-bin histograms over the
float32 key bits (a non-negative float32's bits order like the float) and a scan of the items whose
key equals the cut key, in track order. The result equals ``ORDER BY key DESC, track, item`` plus a
running sum ``<= budget`` exactly, in three linear passes. Peak memory besides the inputs: the
10 bytes/track of outputs, per-chunk temporaries, and 8 bytes per planned track for the release
order sort.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from phonotheque.errors import PlanError
from phonotheque.plan.listens import ListensModel

# decision codes
SKIP, REENCODE, ORIGINAL = 0, 1, 2
DECISIONS = ("skip", "reencode", "original")

# status codes (order matters: stored as text through STATUSES)
PLANNED_ORIGINAL, PLANNED_REENCODE, SKIPPED_LOW, SKIPPED_ISRC, SKIPPED_BUDGET, EXCLUDED = range(6)
STATUSES = (
    "planned_original",
    "planned_reencode",
    "skipped_low_priority",
    "skipped_isrc_has_copy",
    "skipped_budget",
    "excluded",
)
POLICIES = ("reference", "optimal")

NBINS = 1 << 16
_ARR = npt.NDArray[Any]


@dataclass
class Columns:
    """Input columns, one entry per track (index = position, not catalog id).

    Missing values: NaN for floats, -1 for ``dup_group``, 0 for held sizes. Optional columns may be
    ``None`` (treated as all-missing).
    """

    popularity: _ARR | None            # float32 0–100
    listens: _ARR | None = None         # float32 listen counts
    duration_s: _ARR | None = None      # float32 seconds
    dup_group: _ARR | None = None       # int32: dense id of a duplicated ISRC, -1 if unique/none
    held_original: _ARR | None = None   # int64 bytes of the held original (0 = not held)
    held_reencode: _ARR | None = None   # int64 bytes of the held re-encode (0 = not held)
    artist_popularity: _ARR | None = None  # float32: max popularity of the track's artists
    album_popularity: _ARR | None = None   # float32
    artist_followers: _ARR | None = None   # float32/float64: max followers of the track's artists
    excluded: _ARR | None = None        # bool

    def __len__(self) -> int:
        for col in (self.popularity, self.listens, self.duration_s, self.dup_group, self.excluded):
            if col is not None:
                return len(col)
        return 0


@dataclass(frozen=True)
class PlanParams:
    original_weight: float = 1.0
    reencode_weight: float = 0.9
    original_kbit: float = 320.0
    reencode_bitrate: float = 75000.0    # bits per second
    secondary_threshold: float = 0.351
    listens: ListensModel = field(default_factory=ListensModel)
    chunk: int = 1 << 17

    @classmethod
    def from_settings(cls, settings: Any) -> PlanParams:
        return cls(
            original_weight=float(settings["plan.original_weight"]),
            reencode_weight=float(settings["plan.reencode_weight"]),
            original_kbit=float(settings["plan.original_kbit"]),
            reencode_bitrate=float(settings["transcode.bitrate"]),
            secondary_threshold=float(settings["plan.secondary_threshold"]),
            listens=ListensModel(
                floor=float(settings["plan.listens_floor"]),
                exponent=float(settings["plan.listens_exponent"]),
                scale=float(settings["plan.listens_scale"]),
            ),
        )


@dataclass
class PlanArrays:
    decision: _ARR   # int8 SKIP/REENCODE/ORIGINAL
    status: _ARR     # int8 index into STATUSES
    priority: _ARR   # float32
    order: _ARR      # int32 release order, 0-based; -1 when not planned
    stats: dict[str, Any]


# -- helpers ---------------------------------------------------------------------------------
def _chunk(col: _ARR | None, a: int, b: int) -> _ARR | None:
    return None if col is None else col[a:b]


def expected_listens(cols: Columns, params: PlanParams, a: int = 0, b: int | None = None) -> _ARR:
    """Expected listens (float32) for tracks ``a:b`` (listens if known, else popularity mapping)."""
    b = len(cols) if b is None else b
    return params.listens.expected(_chunk(cols.popularity, a, b), _chunk(cols.listens, a, b), b - a)


def mean_duration(cols: Columns, chunk: int = 1 << 20) -> tuple[float, int]:
    """Mean of the known durations (seconds) and how many are missing; 240 s if none is known."""
    if cols.duration_s is None:
        return 240.0, len(cols)
    total, known = 0.0, 0
    for a in range(0, len(cols), chunk):
        d = cols.duration_s[a:a + chunk]
        ok = np.isfinite(d) & (d > 0)
        total += float(d[ok].sum(dtype=np.float64))
        known += int(ok.sum())
    return (total / known if known else 240.0), len(cols) - known


def tier_sizes(cols: Columns, params: PlanParams, default_s: float, a: int, b: int,
               sel: _ARR | None = None) -> tuple[_ARR, _ARR]:
    """Bytes of (original, re-encode) for tracks ``a:b`` (or the indices ``sel``): held file sizes,
    else duration × tier bitrate (missing durations count ``default_s`` seconds)."""
    def pick(col: _ARR) -> _ARR:
        return col[sel] if sel is not None else col[a:b]

    m = len(sel) if sel is not None else b - a
    if cols.duration_s is None:
        d = np.full(m, default_s)
    else:
        d = pick(cols.duration_s).astype(np.float64)
        d = np.where(np.isfinite(d) & (d > 0), d, default_s)
    s_o = np.maximum(np.rint(d * (params.original_kbit * 125.0)), 1).astype(np.int64)
    s_r = np.maximum(np.rint(d * (params.reencode_bitrate / 8.0)), 1).astype(np.int64)
    if cols.held_original is not None:
        h = pick(cols.held_original)
        s_o = np.where(h > 0, h, s_o)
    if cols.held_reencode is not None:
        h = pick(cols.held_reencode)
        s_r = np.where(h > 0, h, s_r)
    return s_o, s_r


ItemFn = Callable[[int, int], tuple[_ARR, _ARR, _ARR, _ARR]]


def _keys(eff: _ARR) -> _ARR:
    """uint32 keys ordering like the non-negative float32 efficiencies; 0 = not an item."""
    e = np.asarray(eff, dtype=np.float32)
    e = np.where(np.isfinite(e) & (e > 0), e, np.float32(0))
    return e.view(np.uint32)


def _select_prefix(items: ItemFn, n: int, budget: int | None, chunk: int) -> tuple[int, int]:
    """Find the cut of ``ORDER BY key DESC, track, item`` + running size sum ``<= budget``.

    ``items(a, b)`` returns (key1, size1, key2, size2) uint32/int64 arrays for tracks ``a:b``
    (key 0 = no item). Returns ``(k_star, rem)``: items with key > k_star are taken; items with
    key == k_star are taken in (track, item) order while their running sum stays <= rem.
    """
    if budget is None:
        return 0, 0
    hist = np.zeros(NBINS, dtype=np.float64)
    for a in range(0, n, chunk):
        k1, s1, k2, s2 = items(a, min(n, a + chunk))
        for k, s in ((k1, s1), (k2, s2)):
            v = k > 0
            hist += np.bincount(k[v] >> 16, weights=s[v], minlength=NBINS)
    if hist.sum() <= budget:
        return 0, 0
    cum = np.cumsum(hist[::-1])
    j = int(np.argmax(cum > budget))
    hi = NBINS - 1 - j
    rem = budget - (int(cum[j - 1]) if j > 0 else 0)
    hist2 = np.zeros(NBINS, dtype=np.float64)
    for a in range(0, n, chunk):
        k1, s1, k2, s2 = items(a, min(n, a + chunk))
        for k, s in ((k1, s1), (k2, s2)):
            v = (k > 0) & ((k >> 16) == hi)
            hist2 += np.bincount(k[v] & 0xFFFF, weights=s[v], minlength=NBINS)
    cum2 = np.cumsum(hist2[::-1])
    j2 = int(np.argmax(cum2 > rem))
    lo = NBINS - 1 - j2
    rem -= int(cum2[j2 - 1]) if j2 > 0 else 0
    return (hi << 16) | lo, rem


def _take(items: ItemFn, n: int, chunk: int, cut: tuple[int, int], on_chunk: Callable[..., None]) -> None:
    """Final pass: ``on_chunk(a, b, taken1, taken2, (k1, s1, k2, s2))`` for each chunk."""
    k_star, rem = cut
    used = 0
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        k1, s1, k2, s2 = items(a, b)
        t1 = k1 > k_star
        t2 = k2 > k_star
        if k_star:
            e1, e2 = k1 == k_star, k2 == k_star
            if e1.any() or e2.any():
                eq = np.zeros((b - a, 2), dtype=np.int64)
                eq[:, 0] = np.where(e1, s1, 0)
                eq[:, 1] = np.where(e2, s2, 0)
                flat = eq.ravel()
                cs = np.cumsum(flat) + used
                ok = ((flat > 0) & (cs <= rem)).reshape(-1, 2)
                used = int(cs[-1])
                t1 |= ok[:, 0]
                t2 |= ok[:, 1]
        on_chunk(a, b, t1, t2, (k1, s1, k2, s2))


def _representatives(members: _ARR, groups: _ARR, *scores: _ARR) -> _ARR:
    """Boolean mask over ``members``: per group, the highest ``scores`` (compared in the order given;
    ties: lowest index)."""
    if len(members) == 0:
        return np.zeros(0, dtype=bool)
    keys = [members] + [-np.asarray(sc, dtype=np.float64) for sc in reversed(scores)] + [groups]
    o = np.lexsort(keys)
    g = groups[o]
    first = np.ones(len(o), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    rep = np.zeros(len(o), dtype=bool)
    rep[o[first]] = True
    return rep


def _release_order(decision: _ARR, priority: _ARR, order: _ARR, chunk: int) -> None:
    """order[i] = rank of planned track i by (priority desc, index asc); 8 bytes per planned track."""
    n = len(decision)
    m = int(np.count_nonzero(decision))
    keys = np.empty(m, dtype=np.uint64)
    pos = 0
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        idx = np.flatnonzero(decision[a:b]).astype(np.uint64)
        pri = np.asarray(priority[a:b][idx.astype(np.int64)], dtype=np.float32)
        bits = pri.view(np.uint32).astype(np.uint64)
        neg = pri < 0   # negative floats order reversed in their bits
        inv = np.where(neg, bits, (~bits) & np.uint64(0x7FFFFFFF))
        keys[pos:pos + len(idx)] = (inv << np.uint64(32)) | (idx + np.uint64(a))
        pos += len(idx)
    keys.sort()
    for a in range(0, m, chunk):
        part = keys[a:a + chunk] & np.uint64(0xFFFFFFFF)
        order[part.astype(np.int64)] = np.arange(a, a + len(part), dtype=np.int32)
    del keys


# -- the policies ----------------------------------------------------------------------------
def plan_columns(cols: Columns, budget: int | None, policy: str = "optimal",
                 params: PlanParams | None = None) -> PlanArrays:
    """Plan every track. ``budget`` in bytes (None = unlimited). Pure: reads ``cols`` only."""
    if policy not in POLICIES:
        raise PlanError(f"policy {policy!r}: unknown (use reference or optimal)")
    if budget is not None and budget < 0:
        raise PlanError(f"budget {budget}: must not be negative")
    params = params or PlanParams()
    n = len(cols)
    if n >= 1 << 31:
        raise PlanError(f"{n} tracks: the planner core handles at most 2^31-1 tracks per run")
    decision = np.zeros(n, dtype=np.int8)
    status = np.full(n, SKIPPED_LOW, dtype=np.int8)
    priority = np.zeros(n, dtype=np.float32)
    order = np.full(n, -1, dtype=np.int32)
    default_s, missing_duration = mean_duration(cols, params.chunk)
    stats: dict[str, Any] = {
        "tracks": n,
        "missing_duration": missing_duration,
        "assumed_duration_s": round(default_s, 1),
        "missing_popularity": _count_missing(cols.popularity, n, params.chunk),
        "missing_listens": _count_missing(cols.listens, n, params.chunk),
    }
    stats["missing_popularity_and_listens"] = _count_both_missing(cols, n, params.chunk)
    if cols.excluded is not None:
        status[cols.excluded] = EXCLUDED
    stats["excluded"] = int(np.count_nonzero(status == EXCLUDED))
    if policy == "optimal":
        _optimal(cols, budget, params, default_s, decision, status, priority, stats)
    else:
        _reference(cols, budget, params, default_s, decision, status, priority, stats)
    _release_order(decision, priority, order, params.chunk)
    return PlanArrays(decision, status, priority, order, stats)


def _count_missing(col: _ARR | None, n: int, chunk: int) -> int:
    if col is None:
        return n
    return sum(int(np.count_nonzero(~np.isfinite(col[a:a + chunk]))) for a in range(0, n, chunk))


def _count_both_missing(cols: Columns, n: int, chunk: int) -> int:
    if cols.popularity is None or cols.listens is None:
        other = cols.listens if cols.popularity is None else cols.popularity
        return _count_missing(other, n, chunk)
    return sum(
        int(np.count_nonzero(~np.isfinite(cols.popularity[a:a + chunk]) & ~np.isfinite(cols.listens[a:a + chunk])))
        for a in range(0, n, chunk)
    )


def _optimal(cols: Columns, budget: int | None, params: PlanParams, default_s: float,
             decision: _ARR, status: _ARR, priority: _ARR, stats: dict[str, Any]) -> None:
    n, chunk = len(cols), params.chunk
    # 1. value of each track (expected listens) kept in the priority array for now
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        v = expected_listens(cols, params, a, b)
        v[status[a:b] == EXCLUDED] = 0
        priority[a:b] = v
    # 2. one copy per duplicated ISRC carries the whole group's listens: the member that is cheapest
    #    to keep (a held file, else the shortest), then the most listened, then the first
    if cols.dup_group is not None:
        members = np.flatnonzero((cols.dup_group >= 0) & (status != EXCLUDED)).astype(np.int32)
        groups = cols.dup_group[members]
        vals = priority[members]
        gsum = np.bincount(groups, weights=vals)
        s_o, s_r = tier_sizes(cols, params, default_s, 0, 0, sel=members)
        rep = _representatives(members, groups, -np.minimum(s_o, s_r), -s_o, vals)
        del s_o, s_r
        others = members[~rep]
        status[others] = SKIPPED_ISRC
        priority[others] = 0
        reps = members[rep]
        priority[reps] = gsum[groups[rep]].astype(np.float32)
        stats["isrc_duplicates_skipped"] = int(len(others))
        del members, groups, vals, gsum, rep, others, reps
    wo, wr = params.original_weight, params.reencode_weight

    def hull(a: int, b: int) -> tuple[_ARR, _ARR, _ARR, _ARR, _ARR]:
        val = priority[a:b].astype(np.float64)
        s_o, s_r = tier_sizes(cols, params, default_s, a, b)
        vo, vr = val * wo, val * wr
        e_o = vo * 1e6 / s_o
        e_r = vr * 1e6 / s_r
        re_only = (vr >= vo) & (s_r <= s_o)
        two = ~re_only & (e_r > e_o) & (s_o > s_r) & (vo > vr)
        tier1 = np.where(re_only | two, REENCODE, ORIGINAL).astype(np.int8)
        e1 = np.where(re_only | two, e_r, e_o)
        s1 = np.where(re_only | two, s_r, s_o)
        ds = np.maximum(s_o - s_r, 1)
        e2 = np.where(two, (vo - vr) * 1e6 / ds, 0.0)
        s2 = np.where(two, ds, 0)
        return _keys(e1), s1, _keys(e2), s2, tier1

    # 3. hull items, computed once: their keys cached (8 bytes/track), the first item's tier kept in
    #    the decision array until the final pass overwrites it
    keys = np.empty((n, 2), dtype=np.uint32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        k1, _, k2, _, tier1 = hull(a, b)
        keys[a:b, 0] = k1
        keys[a:b, 1] = k2
        decision[a:b] = tier1

    def items(a: int, b: int) -> tuple[_ARR, _ARR, _ARR, _ARR]:
        s_o, s_r = tier_sizes(cols, params, default_s, a, b)
        k2 = keys[a:b, 1]
        s1 = np.where(decision[a:b] == REENCODE, s_r, s_o)
        s2 = np.where(k2 > 0, s_o - s_r, 0)
        return keys[a:b, 0], s1, k2, s2

    cut = _select_prefix(items, n, budget, chunk)
    totals = {"original": 0, "reencode": 0}

    def on_chunk(a: int, b: int, t1: _ARR, t2: _ARR, it: tuple[_ARR, _ARR, _ARR, _ARR]) -> None:
        k1, s1, k2, s2 = it
        tier1 = decision[a:b]
        dec = np.where(t1, tier1, SKIP).astype(np.int8)
        dec[t2] = ORIGINAL
        st = status[a:b]
        free = (st != EXCLUDED) & (st != SKIPPED_ISRC)
        st[free & (dec == ORIGINAL)] = PLANNED_ORIGINAL
        st[free & (dec == REENCODE)] = PLANNED_REENCODE
        st[free & (dec == SKIP) & (k1 > 0)] = SKIPPED_BUDGET
        totals["original"] += int(s1[t1 & (tier1 == ORIGINAL)].sum() + s1[t2].sum() + s2[t2].sum())
        totals["reencode"] += int(s1[t1 & ~t2 & (tier1 == REENCODE)].sum())
        decision[a:b] = dec
        priority[a:b] = np.where(free, k1.view(np.float32), np.float32(0))

    _take(items, n, chunk, cut, on_chunk)   # the key cache is freed when this function returns
    stats["bytes_original"] = totals["original"]
    stats["bytes_reencode"] = totals["reencode"]


def secondary_priority(cols: Columns, a: int, b: int) -> tuple[_ARR, _ARR]:
    """Reference secondary priority (without the ISRC term) for tracks ``a:b``, and a missing mask."""
    m = b - a
    total = np.zeros(m, dtype=np.float64)
    missing = np.zeros(m, dtype=bool)
    for col, f in ((cols.artist_popularity, 0), (cols.album_popularity, 0), (cols.artist_followers, 1)):
        if col is None:
            missing[:] = True
            continue
        x = col[a:b].astype(np.float64)
        bad = ~np.isfinite(x) | (x < 0)
        missing |= bad
        x = np.where(bad, 0.0, x)
        total += np.log10(np.minimum(1e8, x + 1.0)) / 8.0 if f else x / 100.0
    return total, missing


def _reference(cols: Columns, budget: int | None, params: PlanParams, default_s: float,
               decision: _ARR, status: _ARR, priority: _ARR, stats: dict[str, Any]) -> None:
    n, chunk = len(cols), params.chunk
    thr = params.secondary_threshold
    missing_secondary = 0
    # 1. rules without budget: popular → original (priority 10 + popularity), tail → secondary
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        st = status[a:b]
        pop = (np.zeros(b - a, dtype=np.float32) if cols.popularity is None
               else np.nan_to_num(cols.popularity[a:b], nan=0.0))
        sec, miss = secondary_priority(cols, a, b)
        live = st != EXCLUDED
        popular = live & (pop > 0)
        tail = live & ~popular
        missing_secondary += int(np.count_nonzero(miss & tail))
        decision[a:b] = np.where(popular, ORIGINAL, np.where(tail & (sec >= thr), REENCODE, SKIP))
        st[popular] = PLANNED_ORIGINAL
        st[tail & (sec >= thr)] = PLANNED_REENCODE
        priority[a:b] = np.where(popular, 10.0 + pop, np.where(tail, sec, 0.0)).astype(np.float32)
    stats["missing_secondary_inputs"] = missing_secondary
    # 2. one copy per ISRC for the tail: the most popular; -10 when the ISRC already has a copy
    if cols.dup_group is not None:
        dg = cols.dup_group
        grp_n = int(dg.max()) + 1 if n else 0
        in_group = dg >= 0
        has_copy = np.bincount(dg[in_group & (decision == ORIGINAL)], minlength=grp_n) > 0
        tail_members = np.flatnonzero(in_group & (status != EXCLUDED) & (decision != ORIGINAL)).astype(np.int32)
        g = dg[tail_members]
        covered = has_copy[g]
        copied = tail_members[covered]
        priority[copied] -= 10.0
        status[copied] = SKIPPED_ISRC
        decision[copied] = SKIP
        rest, g_rest = tail_members[~covered], g[~covered]
        rep = _representatives(rest, g_rest, priority[rest])
        rep_planned = np.zeros(max(grp_n, 1), dtype=bool)
        rep_planned[g_rest[rep]] = decision[rest[rep]] == REENCODE
        others = rest[~rep]
        o_copy = rep_planned[g_rest[~rep]]
        status[others[o_copy]] = SKIPPED_ISRC
        status[others[~o_copy]] = SKIPPED_LOW
        priority[others[o_copy]] -= 10.0
        decision[others] = SKIP
        stats["isrc_duplicates_skipped"] = int(len(copied) + o_copy.sum())
        del tail_members, g, covered, copied, rest, g_rest, rep, others
    # 3. budget: planned files in priority order until the budget is spent
    totals = {"original": 0, "reencode": 0}

    def items(a: int, b: int) -> tuple[_ARR, _ARR, _ARR, _ARR]:
        s_o, s_r = tier_sizes(cols, params, default_s, a, b)
        dec = decision[a:b]
        pri = np.maximum(priority[a:b], np.float32(1e-30))
        k = np.where(dec > 0, _keys(pri), np.uint32(0)).astype(np.uint32)
        size = np.where(dec == ORIGINAL, s_o, s_r)
        zero = np.zeros(b - a, dtype=np.uint32)
        return k, size, zero, np.zeros(b - a, dtype=np.int64)

    cut = _select_prefix(items, n, budget, chunk)

    def on_chunk(a: int, b: int, t1: _ARR, t2: _ARR, it: tuple[_ARR, _ARR, _ARR, _ARR]) -> None:
        k, size, _, _ = it
        dec = decision[a:b]
        cutoff = (dec > 0) & ~t1
        status[a:b][cutoff] = SKIPPED_BUDGET
        dec[cutoff] = SKIP
        totals["original"] += int(size[t1 & (dec == ORIGINAL)].sum())
        totals["reencode"] += int(size[t1 & (dec == REENCODE)].sum())

    _take(items, n, chunk, cut, on_chunk)
    stats["bytes_original"] = totals["original"]
    stats["bytes_reencode"] = totals["reencode"]
