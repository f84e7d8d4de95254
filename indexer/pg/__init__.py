"""The union index in PostgreSQL: the same editions, matching, ranking, facets and sorts as the whoosh index.

`rows` turns a Work into a row (pure), `sql` turns the query model into SQL (pure), `index` writes and
`search` reads. See docs/local-search.md and docs/decisions/0009-union-index-postgresql.md.
"""
