"""Opening the store: the schema upgrades itself (Alembic), the default place, clear errors, fine rules."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from ill import Store, StoreError, accounts
from ill.store import resolve_url
from members import load_registry


def test_schema_is_created_and_upgrades_are_idempotent(db_url):
    with Store(db_url) as s:
        assert s.revision == "0007"
        tables = set(inspect(s.engine).get_table_names())
        assert {"users", "requests", "legs", "audit", "violations", "notices", "alembic_version"} <= tables
        with s.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"
        s.add_user("r1", "reader", "THU")
    with Store(db_url) as again:  # opening again keeps the data
        assert again.user("r1")["member"] == "THU"


def test_a_store_of_the_first_schema_is_upgraded_and_keeps_its_data(db_url):
    """A store made before signing in existed (revision 0001) gains passwords, sessions and member states."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if db_url.startswith("postgresql://") else db_url)
    cfg = Config()
    cfg.set_main_option("script_location", "ill:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO users (id, name, role, member, created_at) "
                          "VALUES ('old1', '', 'reader', 'PKU', '2026-01-05 08:00:00')"))
    engine.dispose()
    with Store(db_url) as s:
        assert s.revision == "0007"
        assert s.user("old1")["member"] == "PKU" and s.password_hash("old1") is None
        assert s.user("old1")["email"] is None and s.user("old1")["email_notices"] is True  # mail on, no address yet
        assert {"sessions", "member_states", "notices"} <= set(inspect(s.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(tmp_path):
    with Store(tmp_path / "ill.sqlite") as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_where_the_store_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("BALIS_DB", raising=False)
    assert resolve_url(None).endswith("var/ill.sqlite")
    monkeypatch.setenv("BALIS_DB", str(tmp_path / "x.sqlite"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert resolve_url("postgresql://u@h:5432/ill") == "postgresql+psycopg://u@h:5432/ill"


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open the ILL store .*--db / \\$BALIS_DB"):
        Store("postgresql://nobody@127.0.0.1:1/none")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="Not a directory"):
        Store(blocker / "sub" / "ill.sqlite")


def test_fine_rules_come_from_the_registry(tmp_path):
    reg = tmp_path / "members.toml"
    reg.write_text("""
[[member]]
code = "RUC"
name = "中国人民大学"
name_en = "Renmin University of China"
  [member.lending.fines]
  overdue_per_day = 1.5

[[member]]
code = "THU"
name = "清华大学"
name_en = "Tsinghua University"
""", encoding="utf-8")
    registry = load_registry(reg)
    ruc, thu = registry.get("RUC").lending.fines, registry.get("THU").lending.fines
    assert ruc.overdue_per_day == 1.5 and thu.overdue_per_day == 0.5
    assert accounts.lost_fen(ruc, None) == 10000 and accounts.lost_fen(ruc, 3850) == 7700
    assert accounts.damaged_fen(ruc, 3850) == 3850 and accounts.overdue_fen(ruc, 3) == 450


def test_migrations_go_down_and_up_again(db_url):
    from alembic import command
    from alembic.config import Config

    with Store(db_url) as s:
        cfg = Config()
        cfg.set_main_option("script_location", "ill:migrations")
        with s.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert "requests" not in inspect(s.engine).get_table_names()
    with Store(db_url) as again:  # opening upgrades to the newest revision
        assert "requests" in inspect(again.engine).get_table_names()
        again.add_user("r1", "reader", "THU")
        assert again.submit("r1", title="x", work_id="w", rota=["PKU"])["status"] == "RequestReceived"


def test_requests_of_a_store_before_delivery_existed_keep_their_data(db_url):
    """A store at revision 0003 gains delivery, pick-up, need-before, citation data, ISBN and year; its
    requests are collected at the ILL desk, with no need-before date."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if db_url.startswith("postgresql://") else db_url)
    cfg = Config()
    cfg.set_main_option("script_location", "ill:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(text("INSERT INTO users (id, name, role, member, created_at) "
                          "VALUES ('old1', '', 'reader', 'PKU', '2026-01-05 08:00:00')"))
        conn.execute(text("INSERT INTO requests (reader_id, borrower, kind, source, title, status, rota, submitted_at) "
                          "VALUES ('old1', 'PKU', 'loan', 'manual', '红楼梦', 'Pending', '[]', '2026-01-05 08:00:00')"))
    engine.dispose()
    with Store(db_url) as s:
        assert s.revision == "0007"
        (old,) = s.list_requests(reader="old1")
        assert (old["title"], old["delivery"], old["pickup"], old["need_before"], old["citation_data"],
                old["isbn"], old["year"]) == ("红楼梦", "desk", "", None, None, "", "")
