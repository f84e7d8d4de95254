"""Pairwise precision / recall / F1 of a clustering against labelled clusters (for tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True, slots=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    false_pairs: int  # predicted but not true: wrong merges
    missed_pairs: int  # true but not predicted


def _pairs(clusters: Iterable[Iterable[str]], keep: set[str] | None) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for c in clusters:
        members = sorted(x for x in c if keep is None or x in keep)
        out.update(combinations(members, 2))
    return out


def pair_scores(predicted: Iterable[Iterable[str]], truth: Iterable[Iterable[str]],
                keep: set[str] | None = None) -> PairScores:
    """Scores over record pairs; `keep` restricts both sides to a subset of records (e.g. Chinese ones)."""
    p, t = _pairs(predicted, keep), _pairs(truth, keep)
    tp = len(p & t)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(precision, recall, f1, len(t), len(p), len(p - t), len(t - p))
