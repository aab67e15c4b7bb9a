"""What a plan preserves: files, bytes, share of tracks, share of listens, the coverage curve.

Listens are *covered* when the track is planned or another track of its duplicated ISRC group is
(one copy serves the recording). *Weighted* listens multiply by the best tier's quality weight in
the group. Both policies are scored by the same function, so ``--compare`` is apples to apples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phonotheque.plan.core import (
    ORIGINAL,
    REENCODE,
    STATUSES,
    Columns,
    PlanArrays,
    PlanParams,
    expected_listens,
    mean_duration,
    tier_sizes,
)

CURVE_POINTS = 200


def _group_flags(cols: Columns, decision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if cols.dup_group is None or len(cols.dup_group) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    dg = cols.dup_group
    size = int(dg.max()) + 1 if dg.max() >= 0 else 0
    g_orig = np.bincount(dg[(dg >= 0) & (decision == ORIGINAL)], minlength=size) > 0
    g_re = np.bincount(dg[(dg >= 0) & (decision == REENCODE)], minlength=size) > 0
    return g_orig, g_re


def track_weights(cols: Columns, arrays: PlanArrays, params: PlanParams) -> np.ndarray:
    """Per-track effective quality weight: its own tier, or the best tier held in its ISRC group."""
    dec = arrays.decision
    w = np.where(dec == ORIGINAL, params.original_weight, np.where(dec == REENCODE, params.reencode_weight, 0.0))
    if cols.dup_group is not None:
        g_orig, g_re = _group_flags(cols, dec)
        dg = cols.dup_group
        inside = dg >= 0
        gw = np.where(g_orig, params.original_weight, np.where(g_re, params.reencode_weight, 0.0))
        w[inside] = np.maximum(w[inside], gw[dg[inside]]) if len(gw) else w[inside]
    return w


def evaluate(cols: Columns, arrays: PlanArrays, params: PlanParams, *, curve: bool = True) -> dict[str, Any]:
    """Summary of a plan (JSON-ready): files, bytes, shares, per tier, status counts, coverage curve."""
    n = len(cols)
    listens = expected_listens(cols, params).astype(np.float64)
    total = float(listens.sum())
    w = track_weights(cols, arrays, params)
    covered = w > 0
    dec = arrays.decision
    default_s, _ = mean_duration(cols, params.chunk)
    s_o, s_r = tier_sizes(cols, params, default_s, 0, n)
    est = np.where(dec == ORIGINAL, s_o, np.where(dec == REENCODE, s_r, 0))
    files = int(np.count_nonzero(dec))
    out: dict[str, Any] = {
        "tracks": n,
        "files": files,
        "bytes": int(est.sum()),
        "share_of_tracks": files / n if n else 0.0,
        "tracks_covered": int(covered.sum()),
        "listens_total": total,
        "listens_covered": float(listens[covered].sum()),
        "share_of_listens": float(listens[covered].sum() / total) if total > 0 else 0.0,
        "weighted_listens": float((listens * w).sum()),
        "share_of_weighted_listens": float((listens * w).sum() / total) if total > 0 else 0.0,
        "tiers": {
            name: {
                "files": int(np.count_nonzero(dec == code)),
                "bytes": int(est[dec == code].sum()),
                "listens": float(listens[dec == code].sum()),
            }
            for name, code in (("original", ORIGINAL), ("reencode", REENCODE))
        },
        "status": {s: int(np.count_nonzero(arrays.status == i)) for i, s in enumerate(STATUSES)},
        "inputs": {k: v for k, v in arrays.stats.items() if k.startswith(("missing", "assumed", "excluded", "isrc"))},
    }
    if curve:
        out["curve"] = coverage_curve(cols, arrays, listens, est, total)
    return out


def coverage_curve(cols: Columns, arrays: PlanArrays, listens: np.ndarray, est: np.ndarray,
                   total: float, points: int = CURVE_POINTS) -> list[dict[str, float]]:
    """Cumulative (files, share of tracks, share of listens, bytes) in release order, sampled.

    A duplicated ISRC's listens are credited to the first of its copies to be released.
    """
    n = len(listens)
    planned = np.flatnonzero(arrays.decision)
    m = len(planned)
    if m == 0 or n == 0:
        return [{"files": 0, "share_of_tracks": 0.0, "share_of_listens": 0.0, "bytes": 0}]
    pos = arrays.order[planned].astype(np.int64)
    credit = np.zeros(m, dtype=np.float64)
    size = np.zeros(m, dtype=np.float64)
    size[pos] = est[planned]
    if cols.dup_group is not None:
        dg = cols.dup_group
        in_g = dg[planned] >= 0
        credit[pos[~in_g]] = listens[planned[~in_g]]
        gsum = np.bincount(dg[dg >= 0], weights=listens[dg >= 0])
        gp, op = dg[planned[in_g]], pos[in_g]
        o = np.argsort(op, kind="stable")
        _, first = np.unique(gp[o], return_index=True)
        np.add.at(credit, op[o][first], gsum[gp[o][first]])
    else:
        credit[pos] = listens[planned]
    cum_l = np.cumsum(credit)
    cum_b = np.cumsum(size)
    ks = np.unique(np.concatenate([np.linspace(1, m, num=min(points, m)), np.geomspace(1, m, num=min(points, m))])
                   .round().astype(np.int64))
    return [
        {
            "files": int(k),
            "share_of_tracks": float(k / n),
            "share_of_listens": float(cum_l[k - 1] / total) if total > 0 else 0.0,
            "bytes": int(cum_b[k - 1]),
        }
        for k in ks
    ]
