"""What an ILL request says about the edition it asks for: the same title, author, ISBN, year and citation whether
the reader asked at the portal or staff submitted it with `balis request submit --work`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EditionText:
    title: str
    author: str
    citation: str  # place : publisher；year；ISBN …；读者附言：…
    isbn: str = ""  # the edition's first ISBN-13
    year: str = ""

    def edition(self, work) -> dict:
        """What `ill.Store.act(route, edition=...)` compares a manual citation with."""
        return {"title": self.title, "isbns": list(work.isbns), "year": self.year}


def edition_text(work, note: str = "") -> EditionText:
    """The edition a request is for, as the request keeps it (dedup.Work's display record)."""
    from services.views import display_title

    d = work.display
    author = "; ".join(a.name for a in d.authors) if d.authors else ""
    citation = "；".join(x for x in (
        " : ".join(x for x in (d.place, d.publisher) if x), str(d.year or ""),
        f"ISBN {', '.join(work.isbns)}" if work.isbns else "", f"读者附言：{note}" if note else "") if x)
    return EditionText(display_title(d), author, citation, work.isbns[0] if work.isbns else "", str(d.year or ""))
