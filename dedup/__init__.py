"""Merging member records that describe the same edition into Works (pure functions, no I/O)."""

from dedup.cluster import cluster
from dedup.work import Merger, Work, merge

# The version of the matching rules (keys, blocking, conflicts, scores). A harvest store merged by other rules
# is re-merged once, whole, by its next index phase (indexer/store.py): its stored keys and pairs are stale.
MERGE_RULES = "15"

__all__ = ["MERGE_RULES", "Merger", "Work", "cluster", "merge"]
