"""Spelling suggestions from the PostgreSQL union index: the rule of indexer/spelling.py over `index_terms`
(the words of titles, authors and subjects with their counts, kept by triggers: migration 0006)."""

from __future__ import annotations

import psycopg

from indexer import spelling

WEIGHT = {"title": "A", "author": "B", "subject": "C"}  # the fields' weights in the editions' `doc` tsvector
LONGEST = 255  # characters: fuzzystrmatch compares strings up to this long (longer words are not kept)

# Per field (the weight) and word of the editions in {rows}: the editions holding it there and its occurrences.
# Only words a Latin word of four letters could be two edits from: two ASCII letters or more.
_COUNTS = f"""
    SELECT w.weight AS field, l.lexeme AS word, count(*) AS docs, sum(w.n) AS occurrences
    FROM {{rows}} e
    CROSS JOIN LATERAL unnest(e.doc) AS l
    CROSS JOIN LATERAL (SELECT x AS weight, count(*) AS n FROM unnest(l.weights) AS x
                        WHERE x IN ('A', 'B', 'C') GROUP BY x) AS w
    WHERE l.lexeme ~ '[a-z].*[a-z]' AND length(l.lexeme) <= {LONGEST}
    GROUP BY 1, 2"""
_ADD = """
    INSERT INTO index_terms AS t (field, word, docs, occurrences) {counts}
    ON CONFLICT (field, word) DO UPDATE SET docs = t.docs + EXCLUDED.docs,
                                            occurrences = t.occurrences + EXCLUDED.occurrences"""
_REMOVE = """
    WITH gone AS ({counts}),
    emptied AS (DELETE FROM index_terms t USING gone g WHERE t.field = g.field AND t.word = g.word
                AND t.docs <= g.docs)
    UPDATE index_terms t SET docs = t.docs - g.docs, occurrences = t.occurrences - g.occurrences
    FROM gone g WHERE t.field = g.field AND t.word = g.word AND t.docs > g.docs"""
_EVENTS = {"insert": "AFTER INSERT ON editions REFERENCING NEW TABLE AS new_rows",
           "delete": "AFTER DELETE ON editions REFERENCING OLD TABLE AS old_rows",
           "update": "AFTER UPDATE ON editions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
           "truncate": "AFTER TRUNCATE ON editions"}

# The statement-level triggers that keep `index_terms` up to date from the rows each statement changed, put
# on the `editions` table there is now (a rebuild swaps in a new one), and the counts made again from scratch.
REFRESH = [f"""
    CREATE OR REPLACE FUNCTION index_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM index_terms;
            RETURN NULL;
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {_REMOVE.format(counts=_COUNTS.format(rows="old_rows"))};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {_ADD.format(counts=_COUNTS.format(rows="new_rows"))};
        END IF;
        RETURN NULL;
    END $$""",
    *(f"DROP TRIGGER IF EXISTS index_terms_{event} ON editions" for event in _EVENTS),
    *(f"CREATE TRIGGER index_terms_{event} {when} FOR EACH STATEMENT EXECUTE FUNCTION index_terms_changed()"
      for event, when in _EVENTS.items()),
    "DELETE FROM index_terms",
    _ADD.format(counts=_COUNTS.format(rows="editions"))]
COUNTED = "index_terms_load"  # a load's words, counted beside its index builds


def count_into(table: str, editions: str) -> str:
    """The statement that counts the words of the `editions` table into a new `table`."""
    return f"CREATE TABLE {table} AS {_COUNTS.format(rows=editions)}"


def refresh(cur: psycopg.Cursor, counted: str | None = None) -> None:
    """After a rebuild (in its transaction): the triggers on the new `editions`, and its words counted (or
    taken from the table `counted`, made by `count_into`, which is then dropped)."""
    for statement in REFRESH if counted is None else REFRESH[:-1]:
        cur.execute(statement)
    if counted is not None:
        cur.execute(f"INSERT INTO index_terms (field, word, docs, occurrences) "
                    f"SELECT field, word, docs, occurrences FROM {counted}")
        cur.execute(f"DROP TABLE {counted}")


_NEAR = f"""
    SELECT word, occurrences, docs FROM index_terms
    WHERE field = %(field)s AND length(word) BETWEEN %(shortest)s AND %(longest)s
      AND levenshtein_less_equal(word, %(token)s, {spelling.MAX_EDITS}) <= {spelling.MAX_EDITS}"""


def suggest(conn: psycopg.Connection, words: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` corrected lists of `words`, as the whoosh index gives them (indexer/spelling.py)."""

    def known(token: str) -> bool:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM index_terms WHERE word = %s AND field = ANY(%s))",
                            (token, list(WEIGHT.values()))).fetchone()[0]

    def near(field: str, token: str, n: int) -> list[tuple[str, int]]:
        if len(token) > LONGEST - spelling.MAX_EDITS:
            return []
        rows = conn.execute(_NEAR, {"field": WEIGHT[field], "token": token, "shortest": len(token) - spelling.MAX_EDITS,
                                    "longest": len(token) + spelling.MAX_EDITS}).fetchall()
        return spelling.corrector_order([(w, o, d) for w, o, d in rows if w != token], n)

    return spelling.suggestions(words, known, near, limit)
