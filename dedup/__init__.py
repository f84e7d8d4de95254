"""Merging member records that describe the same edition into Works (pure functions, no I/O)."""

from dedup.cluster import cluster
from dedup.work import Merger, Work, merge

__all__ = ["Merger", "Work", "cluster", "merge"]
