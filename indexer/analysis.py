"""Text analysis for the local index: the same folded tokens as live ranking, with positions for phrases.

Text is folded once with `records.fold.fold` (NFKC full-width → half-width, traditional → simplified via
OpenCC, punctuation removed, case and Latin accents folded). Latin runs become words (no stemming, so a
name stays the name typed); CJK runs become overlapping bigrams, and documents also index every single
character so a one-character query finds them. A bigram sits at the position of its first character, so a
phrase of bigrams is a run of consecutive positions. These are the tokens `federator.rank.tokens` scores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from whoosh.analysis import Token, Tokenizer

from records.fold import fold

_CJK_RUN = re.compile(
    r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]+)")


def positioned_tokens(text: str, *, document: bool = True) -> Iterator[tuple[str, int]]:
    """(token, position) pairs of a text: words, CJK bigrams, and (documents only) CJK single characters.

    A one-character CJK run is a token in both modes; a query never asks for the single characters of a
    longer run (its bigrams say more and are far rarer).
    """
    pos = 0
    for chunk in fold(text).split():
        if chunk.isascii():
            yield chunk, pos
            pos += 1
            continue
        for i, part in enumerate(_CJK_RUN.split(chunk)):
            if not part:
                continue
            if i % 2 == 0 or len(part) == 1:  # Latin/digits between CJK runs, or a lone CJK character
                yield part, pos
                pos += 1
                continue
            for j in range(len(part) - 1):
                yield part[j:j + 2], pos + j
                if document:
                    yield part[j], pos + j
            if document:
                yield part[-1], pos + len(part) - 1
            pos += len(part)


def query_tokens(text: str) -> list[str]:
    """The tokens a query clause's text asks for (bigrams for CJK runs, words otherwise), in order."""
    return [t for t, _ in positioned_tokens(text, document=False)]


def query_positions(text: str) -> list[tuple[str, int]]:
    """Query tokens with their positions (for phrase queries)."""
    return list(positioned_tokens(text, document=False))


class BalisTokenizer(Tokenizer):
    """whoosh tokenizer over `positioned_tokens`: documents get unigrams too, queries only bigrams.

    It is pickled into the index's table of contents, so its import path must not change.
    """

    def __eq__(self, other) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__.__name__)

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        document = mode != "query"
        if not tokenize:
            pairs = [(fold(value), 0)]
        else:
            pairs = positioned_tokens(value, document=document)
        for text, pos in pairs:
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            if chars:  # offsets into the folded text are not kept; highlight is not offered
                t.startchar = start_char
                t.endchar = start_char
            yield t


def analyzer() -> BalisTokenizer:
    """The analyzer of every text field of the local index."""
    return BalisTokenizer()
