"""Did you mean: the spellings the union index knows for the words of a search that found nothing.

One rule for both backends (pure; each backend says which words its fields hold and which are near):
for each Latin word of four letters or more that no title, author or subject holds, the nearest terms of
each of those fields (at most two edits, Levenshtein), as whoosh's corrector chooses them (the `limit` most
frequent in the field, ties by the later word, listed most frequent first, ties alphabetically); the terms
of the three fields ranked by the editions that hold them, summed over the fields that offered them. Other
words (Chinese, numbers, short words) are never corrected: a Chinese word is matched by its bigrams, which
have no spellings to be near.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from indexer.analysis import query_tokens

FIELDS = ("title", "author", "subject")
MAX_EDITS = 2
MIN_LETTERS = 4

# (field, token, limit) -> [(term, editions of the field holding it)] in the corrector's order
Near = Callable[[str, str, int], Sequence[tuple[str, int]]]


def correctable(word: str) -> str | None:
    """The token a typed word is looked up as, when the rule corrects it (one Latin word of four letters or
    more), else None."""
    tokens = query_tokens(word)
    if len(tokens) != 1:
        return None
    token = tokens[0]
    return token if token.isascii() and token.isalpha() and len(token) >= MIN_LETTERS else None


def corrector_order(candidates: Sequence[tuple[str, int, int]], limit: int) -> list[tuple[str, int]]:
    """whoosh's corrector over (term, occurrences in the field, editions) within the edit distance: the
    `limit` with the most occurrences (ties: the later term), most first (ties: the earlier term)."""
    kept = sorted(candidates, key=lambda c: (c[1], c[0]), reverse=True)[:limit]
    return [(term, docs) for term, _, docs in sorted(kept, key=lambda c: (-c[1], c[0]))]


def suggestions(words: Sequence[str], known: Callable[[str], bool], near: Near, limit: int = 3) -> list[str]:
    """Up to `limit` corrected lists of `words` (as text); only the first corrected word varies between them.
    `known(token)`: some title, author or subject holds it; `near`: see Near."""
    corrected = list(words)
    first_alternatives: list[tuple[int, str]] = []
    for i, word in enumerate(words):
        token = correctable(word)
        if token is None or known(token):
            continue
        found: dict[str, int] = {}
        for field in FIELDS:
            for term, docs in near(field, token, limit):
                found[term] = found.get(term, 0) + docs
        if not found:
            continue
        ranked = sorted(found, key=lambda t: -found[t])
        corrected[i] = ranked[0]
        if not first_alternatives:
            first_alternatives = [(i, t) for t in ranked[1:limit]]
    if corrected == list(words):
        return []
    out = [" ".join(corrected)]
    for i, term in first_alternatives:
        out.append(" ".join(corrected[:i] + [term] + corrected[i + 1:]))
    return out[:limit]
