"""``plan(archive, ...)``: read the catalog's columns, run the core, store the plan in one transaction.

Columns are read in id-ordered chunks (no whole-catalog Python objects); duplicated ISRCs (or, for
tracks without an ISRC, duplicated recordings) get a dense group id in SQL. The ``plan`` table is
replaced inside one transaction together with its ``plan_runs`` row, so an interrupted run leaves
the previous plan intact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from phonotheque.archive import Archive
from phonotheque.errors import BudgetError, PlanError
from phonotheque.plan import exclusions as excl
from phonotheque.plan.core import (
    DECISIONS,
    EXCLUDED,
    ORIGINAL,
    POLICIES,
    REENCODE,
    STATUSES,
    Columns,
    PlanArrays,
    PlanParams,
    expected_listens,
    plan_columns,
    tier_sizes,
)
from phonotheque.plan.summary import evaluate
from phonotheque.units import format_size, parse_size

CHUNK = 100_000

_DUPS_SQL = """
CREATE TEMP TABLE _plan_dups (key TEXT PRIMARY KEY, gid INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO _plan_dups(key, gid)
SELECT key, ROW_NUMBER() OVER (ORDER BY key) - 1 FROM (
    SELECT CASE WHEN r.isrc IS NOT NULL AND r.isrc != '' THEN r.isrc
                WHEN t.recording_id IS NOT NULL THEN 'rec:' || t.recording_id END AS key
    FROM tracks t LEFT JOIN recordings r ON r.id = t.recording_id
) WHERE key IS NOT NULL GROUP BY key HAVING COUNT(*) > 1;
"""

_COLS_SQL = """
SELECT t.id,
       COALESCE(t.popularity, -1),
       COALESCE(t.listens, -1),
       COALESCE(t.duration_ms, r.duration_ms, -1),
       COALESCE(d.gid, -1),
       COALESCE((SELECT MAX(f.size) FROM track_files tf JOIN files f ON f.id = tf.file_id
                 WHERE tf.track_id = t.id AND f.tier = 'original'), 0),
       COALESCE((SELECT MAX(f.size) FROM track_files tf JOIN files f ON f.id = tf.file_id
                 WHERE tf.track_id = t.id AND f.tier = 'reencode'), 0),
       COALESCE((SELECT MAX(a.popularity) FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
                 WHERE ta.track_id = t.id), -1),
       COALESCE(al.popularity, -1),
       COALESCE((SELECT MAX(a.followers) FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
                 WHERE ta.track_id = t.id), -1)
FROM tracks t
LEFT JOIN recordings r ON r.id = t.recording_id
LEFT JOIN albums al ON al.id = t.album_id
LEFT JOIN _plan_dups d ON d.key = CASE WHEN r.isrc IS NOT NULL AND r.isrc != '' THEN r.isrc
                                      WHEN t.recording_id IS NOT NULL THEN 'rec:' || t.recording_id END
WHERE t.id > ? ORDER BY t.id LIMIT ?
"""


@dataclass
class PlanSummary:
    """What ``plan --json`` prints."""

    policy: str
    budget: int | None
    tracks: int
    files: int
    bytes: int
    share_of_tracks: float
    share_of_listens: float
    weighted_listens: float
    share_of_weighted_listens: float
    listens_total: float
    tiers: dict[str, Any]
    status: dict[str, int]
    inputs: dict[str, Any]
    warnings: list[str]
    curve: list[dict[str, float]]
    run_id: int | None = None
    compare: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        return (f"{self.files:,} files = {100 * self.share_of_tracks:.1f} % of tracks = "
                f"{100 * self.share_of_listens:.2f} % of listens ({format_size(self.bytes)})")


def read_columns(archive: Archive, *, chunk: int = CHUNK, extra_exclusions: list[excl.Exclusion] | None = None,
                 progress: Callable[..., None] | None = None) -> tuple[np.ndarray, Columns, dict[int, str]]:
    """Catalog ids (int64) and the planner's input columns, plus excluded track id → reason.

    Rows are read in id order, ``chunk`` at a time, straight into typed arrays (~52 bytes/track)."""
    conn = archive.conn
    conn.execute("DROP TABLE IF EXISTS temp._plan_dups")
    conn.executescript(_DUPS_SQL)
    n = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    if progress:
        progress(0, total=n)
    ids = np.empty(n, dtype=np.int64)
    f32 = {k: np.empty(n, dtype=np.float32) for k in ("pop", "lis", "dur", "apop", "alpop", "fol")}
    gid = np.empty(n, dtype=np.int32)
    held_o = np.empty(n, dtype=np.int64)
    held_r = np.empty(n, dtype=np.int64)
    pos, last = 0, -(2**63)
    while pos < n:
        rows = conn.execute(_COLS_SQL, (last, chunk)).fetchall()
        if not rows:
            break
        block = np.array([tuple(r) for r in rows], dtype=np.float64)[: n - pos]
        m = len(block)
        sl = slice(pos, pos + m)
        ids[sl] = block[:, 0]
        for key, i, scale in (("pop", 1, 1.0), ("lis", 2, 1.0), ("dur", 3, 1e-3), ("apop", 7, 1.0),
                              ("alpop", 8, 1.0), ("fol", 9, 1.0)):
            x = block[:, i]
            f32[key][sl] = np.where(x < 0, np.nan, x * scale)
        gid[sl] = block[:, 4]
        held_o[sl] = block[:, 5]
        held_r[sl] = block[:, 6]
        pos += m
        last = int(rows[-1][0])
        if progress:
            progress(m)
    conn.execute("DROP TABLE IF EXISTS temp._plan_dups")
    ids, gid, held_o, held_r = ids[:pos], gid[:pos], held_o[:pos], held_r[:pos]
    excluded_ids = excl.resolve(conn, extra_exclusions)
    excluded = np.isin(ids, np.fromiter(excluded_ids, dtype=np.int64, count=len(excluded_ids)))
    cols = Columns(
        popularity=f32["pop"][:pos], listens=f32["lis"][:pos], duration_s=f32["dur"][:pos], dup_group=gid,
        held_original=held_o, held_reencode=held_r, artist_popularity=f32["apop"][:pos],
        album_popularity=f32["alpop"][:pos], artist_followers=f32["fol"][:pos], excluded=excluded,
    )
    return ids, cols, excluded_ids


def _warnings(cols: Columns, stats: dict[str, Any], budget: int | None, policy: str) -> list[str]:
    n = stats["tracks"]
    out: list[str] = []
    if n == 0:
        out.append("the catalog has no tracks: the plan is empty")
        return out
    both = stats["missing_popularity_and_listens"]
    if both == n:
        out.append("no track has popularity or listens: every track is valued at the popularity-0 floor, "
                   "so the plan favours short files; import popularity or listens for a meaningful plan")
    elif both:
        out.append(f"{both:,} tracks have neither popularity nor listens: valued as popularity 0")
    if stats["missing_duration"]:
        out.append(f"{stats['missing_duration']:,} tracks have no duration: sized as "
                   f"{stats['assumed_duration_s']} s (the catalog's mean)")
    if policy == "reference" and stats.get("missing_secondary_inputs"):
        out.append(f"{stats['missing_secondary_inputs']:,} popularity-0 tracks lack artist/album popularity or "
                   "followers: the missing terms count as 0 in the secondary priority")
    if budget == 0:
        out.append("budget is 0: nothing can be planned")
    return out


def _parse_budget(budget: str | int | None) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, str) and budget.strip().lower() in ("none", "unlimited", "inf"):
        return None
    if isinstance(budget, str) and budget.strip().startswith("-") or isinstance(budget, int) and budget < 0:
        raise BudgetError(f"budget: {budget!r} is negative (give a size such as 4TB or 500 GiB)")
    return parse_size(budget, what="budget")


def plan(archive: Archive, *, budget: str | int | None, policy: str = "optimal",
         exclusions: str | Path | None = None, compare: bool = False,
         progress: Callable[..., None] | None = None) -> PlanSummary:
    """Plan every track of the catalog and store the result (table ``plan`` + a ``plan_runs`` row).

    ``budget``: bytes or a size string (``4TB``, ``500 GiB``); None = unlimited. ``exclusions``: a CSV
    file (kind,value,reason) honoured for this run on top of the stored exclusion list. ``compare``:
    also run the other policy at the same budget (not stored) and report both. ``progress(n, total=None)``
    is called as catalog rows are read.
    """
    if policy not in POLICIES:
        raise PlanError(f"policy {policy!r}: unknown (use reference or optimal)")
    nbytes = _parse_budget(budget)
    extra: list[excl.Exclusion] = []
    if exclusions is not None:
        extra, errors = excl.read_csv(exclusions)
        if errors:
            raise PlanError(f"{errors[0]} ({len(errors)} bad exclusion row(s); fix the file and re-run)")
    params = PlanParams.from_settings(archive.settings)
    ids, cols, excluded_ids = read_columns(archive, extra_exclusions=extra, progress=progress)
    arrays = plan_columns(cols, nbytes, policy, params)
    summary = _summary(cols, arrays, params, policy, nbytes)
    if compare:
        other = "reference" if policy == "optimal" else "optimal"
        o_arr = plan_columns(cols, nbytes, other, params)
        o_sum = _summary(cols, o_arr, params, other, nbytes)
        opt, ref = (summary, o_sum) if policy == "optimal" else (o_sum, summary)
        summary.compare = {
            "other": {k: v for k, v in o_sum.to_dict().items() if k not in ("curve", "compare")},
            "weighted_listens_gain": opt.weighted_listens - ref.weighted_listens,
            "weighted_listens_gain_pct": (100.0 * (opt.weighted_listens - ref.weighted_listens) / ref.weighted_listens
                                          if ref.weighted_listens > 0 else math.inf if opt.weighted_listens else 0.0),
            "weighted_listens_lost": {"optimal": opt.listens_total - opt.weighted_listens,
                                      "reference": ref.listens_total - ref.weighted_listens},
        }
        lost = summary.compare["weighted_listens_lost"]
        summary.compare["lost_ratio_reference_to_optimal"] = (
            lost["reference"] / lost["optimal"] if lost["optimal"] > 0 else None)
    summary.run_id = _store(archive, ids, cols, arrays, params, excluded_ids, summary)
    return summary


def _summary(cols: Columns, arrays: PlanArrays, params: PlanParams, policy: str, budget: int | None) -> PlanSummary:
    ev = evaluate(cols, arrays, params)
    return PlanSummary(
        policy=policy, budget=budget, tracks=ev["tracks"], files=ev["files"], bytes=ev["bytes"],
        share_of_tracks=ev["share_of_tracks"], share_of_listens=ev["share_of_listens"],
        weighted_listens=ev["weighted_listens"], share_of_weighted_listens=ev["share_of_weighted_listens"],
        listens_total=ev["listens_total"], tiers=ev["tiers"], status=ev["status"], inputs=ev["inputs"],
        warnings=_warnings(cols, arrays.stats, budget, policy), curve=ev["curve"],
    )


def _store(archive: Archive, ids: np.ndarray, cols: Columns, arrays: PlanArrays, params: PlanParams,
           excluded_ids: dict[int, str], summary: PlanSummary) -> int:
    n = len(ids)
    listens = expected_listens(cols, params)
    default_s = float(summary.inputs.get("assumed_duration_s", 240.0))
    s_o, s_r = tier_sizes(cols, params, default_s, 0, n)
    est = np.where(arrays.decision == ORIGINAL, s_o, np.where(arrays.decision == REENCODE, s_r, 0))
    no_dur = ~np.isfinite(cols.duration_s) if cols.duration_s is not None else np.ones(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    for i in np.flatnonzero(arrays.status == EXCLUDED).tolist():
        reasons[i] = excluded_ids.get(int(ids[i]), "excluded")
    for i in np.flatnonzero(no_dur & (arrays.decision > 0)).tolist():
        reasons[i] = f"no duration: size estimated from the catalog mean ({default_s} s)"
    def rows() -> Iterator[tuple[Any, ...]]:
        for a in range(0, n, CHUNK):
            b = min(n, a + CHUNK)
            order = (arrays.order[a:b].astype(np.int64) + 1).tolist()
            yield from zip(
                ids[a:b].tolist(),
                [DECISIONS[d] for d in arrays.decision[a:b].tolist()],
                [STATUSES[s] for s in arrays.status[a:b].tolist()],
                reasons[a:b],
                arrays.priority[a:b].astype(np.float64).tolist(),
                listens[a:b].astype(np.float64).tolist(),
                est[a:b].tolist(),
                [o if o > 0 else None for o in order],
                strict=True,
            )

    payload = {k: v for k, v in summary.to_dict().items() if k != "run_id"}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with archive.transaction() as conn:
        conn.execute("DELETE FROM plan")
        conn.executemany(
            "INSERT INTO plan(track_id, decision, status, reason, priority, expected_listens, est_bytes, "
            "release_order) VALUES (?,?,?,?,?,?,?,?)",
            rows(),
        )
        cur = conn.execute(
            "INSERT INTO plan_runs(policy, budget, created_at, summary) VALUES (?,?,?,?)",
            (summary.policy, summary.budget, now, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY).decode()),
        )
        run_id = int(cur.lastrowid or 0)
    return run_id


def last_run(archive: Archive) -> dict[str, Any] | None:
    """The summary of the most recent plan run, or None when no plan was made."""
    row = archive.conn.execute("SELECT id, policy, budget, created_at, summary FROM plan_runs ORDER BY id DESC LIMIT 1"
                               ).fetchone()
    if row is None:
        return None
    data: dict[str, Any] = orjson.loads(row[4])
    data.update(run_id=row[0], created_at=row[3])
    return data
