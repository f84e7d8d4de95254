"""The real-variant generator (benchmarks/real_variants.py): deterministic, and each variant or trap does
what its label claims on a real record. Merge quality is the benchmark's job (benchmarks/dedup_real.py)."""

from __future__ import annotations

import random
import shutil

import pytest
from pypinyin import lazy_pinyin
from rapidfuzz.distance import OSA
from stdnum import isbn as stdnum_isbn

from benchmarks import real_variants as rv
from records.fold import is_cjk, to_simplified
from records.marc import detect_syntax, iter_iso2709
from records.normalise import normalise

SOURCE = rv.PROJECT_SOURCE  # the project's copy of the real records (testbed/data/marc, licences beside)
SUBSET = ("dp2-cnmarc/sample_cnmarc.as_marcxml.xml", "dp2-cnmarc/sample_cnmarcxml.xml",
          "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml", "marc4j/chabon.mrc", "marc4j/chabon-loc.mrc",
          "yaz/marccol1.u8.marc", "pymarc/test.dat")
SEEDS = range(12)


@pytest.fixture(scope="module")
def found() -> list[rv.Source]:
    records, problems = rv.read_sources(SOURCE)
    assert not problems
    return records


@pytest.fixture(scope="module")
def sources(found) -> dict[str, rv.Source]:
    return {s.label: s for s in found}


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> str:
    """A few real files (Chinese MARC21 and CNMARC, a known duplicate pair, romanised records with 880)."""
    folder = tmp_path_factory.mktemp("real-subset")
    for rel in SUBSET:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCE / rel, folder / rel)
    return str(folder)


@pytest.fixture(scope="module")
def generated(subset, tmp_path_factory):
    """(folder, truth) of the subset's catalogues for one seed."""
    folder = tmp_path_factory.mktemp("generated")
    return folder, rv.generate(folder, 5, subset)


def ctx_of(rec) -> rv.Context:
    return rv._context(rec, rv.Pools())


def copy_of(sources, label: str):
    return rv.fresh_copy(sources[label].rec)


# ---------------------------------------------------------------- the set as a whole

def test_same_seed_gives_the_same_bytes_and_truth(subset, tmp_path):
    a = rv.generate(tmp_path / "a", 7, subset)
    b = rv.generate(tmp_path / "b", 7, subset)
    assert a == b
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = rv.generate(tmp_path / "c", 8, subset)
    assert any((tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes() for n in a["files"])
    assert c["records"] != a["records"]


def test_files_are_utf8_iso2709_and_labels_point_at_the_records(generated):
    tmp_path, truth = generated
    seen = 0
    for name in truth["files"]:
        for position, rec in iter_iso2709(tmp_path / name, charset="utf-8", strict=True):
            label = f"{name}#{position - 1}"
            assert str(rec.leader)[9] == "a"
            assert rv.display_title(rec) == truth["records"][label]["title"]
            assert detect_syntax(rec) == truth["records"][label]["syntax"]
            seen += 1
    assert seen == len(truth["records"])
    listed = [x for e in truth["editions"].values() for x in e["records"]]
    assert sorted(listed) == sorted(truth["records"])
    assert all(n["a"] in truth["editions"] and n["b"] in truth["editions"] for n in truth["hard_negatives"])


def test_real_duplicates_are_one_edition_and_print_and_online_are_two(generated):
    truth = generated[1]
    edition_of = {}
    for info in truth["records"].values():
        if info["ops"] == ["real"]:
            edition_of[info["source"]] = info["edition"]
    assert edition_of["marc4j/chabon.mrc#1"] == edition_of["marc4j/chabon-loc.mrc#1"]
    assert edition_of["marc4j/chabon.mrc#2"] == edition_of["marc4j/chabon-loc.mrc#2"]
    assert edition_of["marc4j/chabon.mrc#1"] != edition_of["marc4j/chabon.mrc#2"]
    for n in range(1, 11):  # the same SRU answer, as a response and as plain MARCXML
        assert (edition_of[f"dp2-cnmarc/sample_cnmarc.as_marcxml.xml#{n}"]
                == edition_of[f"dp2-cnmarc/sample_cnmarcxml.xml#{n}"])
    # '97中国发展报告: the online resource (#4) and the printed book (#5) share an ISBN, not an edition
    online, printed = (edition_of[f"dp2-cnmarc/sample_cnmarc.as_marcxml.xml#{n}"] for n in (4, 5))
    assert online != printed
    assert truth["editions"][printed]["chinese"]
    assert not truth["editions"][edition_of["marc4j/chabon.mrc#1"]]["chinese"]


def test_every_variant_and_trap_reads_back_through_the_product(generated):
    tmp_path, truth = generated
    kinds = {op.split(":")[0] for info in truth["records"].values() for op in info["ops"]}
    assert {"real", "trap", "reexpress", "isbn", "publisher"} <= kinds
    for name in truth["files"]:
        for position, rec in iter_iso2709(tmp_path / name):
            record = normalise(rec, syntax="auto", member=name, record_id=str(position))
            assert record.title, f"{name}#{position - 1} lost its title"


# ---------------------------------------------------------------- same-edition operations

ENGLISH = "marc4j/chabon-loc.mrc#1"  # The amazing adventures of Kavalier and Clay (ind2 4)
CN_MARC21 = "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml#2"  # '08中国改革跟踪报告, Chinese in 245
CNMARC = "dp2-cnmarc/sample_cnmarc.as_marcxml.xml#3"  # '96 中国发展报告 : 中国的"八五"
ROMANISED = "yaz/marccol1.u8.marc#3"  # I shu chia yü te yü: romanised 245 with 880 vernacular


def test_article_sets_245_ind2_or_leaves_it_0(sources):
    labels = set()
    for seed in SEEDS:
        rec = copy_of(sources, ENGLISH)
        label = rv.op_article(random.Random(seed), rec, ctx_of(rec))
        f = rec["245"]
        if label == "article:removed":
            assert f["a"].startswith("Amazing") and f.indicator2 == "0"
        elif label == "article:kept-ind2-0":
            assert f["a"].startswith("The ") and f.indicator2 == "0"
        elif label is not None:
            raise AssertionError(label)
        labels.add(label)
    assert {"article:removed", "article:kept-ind2-0"} <= labels
    added = set()
    for seed in range(40):
        rec = copy_of(sources, "marc4j/chabon-loc.mrc#2")  # Summerland: no article
        label = rv.op_article(random.Random(seed), rec, ctx_of(rec))
        f = rec["245"]
        if label == "article:added":
            art = f["a"].split(" ")[0]
            assert art in rv.ARTICLES["eng"] and f.indicator2 == str(len(art) + 1)
        elif label == "article:added-ind2-0":
            assert f["a"].split(" ")[0] in rv.ARTICLES["eng"] and f.indicator2 == "0"
        else:
            assert label is None and f["a"].startswith("Summerland")
        added.add(label)
    assert {"article:added", "article:added-ind2-0"} <= added


def test_typo_changes_one_letter_of_a_title_word_and_no_digit(sources):
    for seed in SEEDS:
        rec = copy_of(sources, ENGLISH)
        before = rec["245"]["a"]
        assert rv.op_typo(random.Random(seed), rec, ctx_of(rec)).startswith("typo:")
        after = rec["245"]["a"]
        assert after != before and OSA.distance(before, after) == 1
    rec = copy_of(sources, CN_MARC21)
    before = rec["245"]["a"]
    assert rv.op_typo(random.Random(1), rec, ctx_of(rec)) == "typo:homophone"
    after = rec["245"]["a"]
    assert len(after) == len(before) and sum(x != y for x, y in zip(before, after, strict=True)) == 1
    assert lazy_pinyin(before) == lazy_pinyin(after)
    assert [c for c in after if c.isdigit()] == [c for c in before if c.isdigit()]


def test_subtitle_is_joined_omitted_or_split(sources):
    seen = set()
    for seed in SEEDS:
        rec = copy_of(sources, CNMARC)
        label = rv.op_subtitle(random.Random(seed), rec, ctx_of(rec))
        f = rec["200"]
        assert f.get("e") is None
        if label == "subtitle:omitted":
            assert "八五" not in f["a"]
        else:
            assert label.startswith("subtitle:joined") and "八五" in f["a"] and "中国发展报告" in f["a"]
        seen.add(label)
    assert len(seen) >= 3


def test_isbn_forms_keep_the_same_isbn_or_drop_it(sources):
    label_seen = set()
    for seed in range(30):
        rec = copy_of(sources, "marc4j/chabon-loc.mrc#2")  # 0786808772 and 0786816155 (pbk.)
        before = set(rv._isbn_values(rec))
        label = rv.op_isbn(random.Random(seed), rec, ctx_of(rec))
        after = set(rv._isbn_values(rec))
        if label == "isbn:dropped":
            assert not rec.get_fields("020")
        else:
            assert after and after <= before
        if label == "isbn:10-13":
            assert any(len(f["a"].split(" ")[0].replace("-", "")) == 13 for f in rec.get_fields("020"))
        label_seen.add(label)
    assert {"isbn:dropped", "isbn:10-13", "isbn:hyphens", "isbn:one-kept"} <= label_seen


def test_edition_date_and_extent_forms_keep_their_numbers(sources):
    for seed in SEEDS:
        rec = copy_of(sources, ROMANISED)  # Ti 1 pan. / 1983. / 2, 3, 4, 244 p.
        ctx = ctx_of(rec)
        rv.op_edition(random.Random(seed), rec, ctx)
        assert not rec.get_fields("250") or rv._edition_number(rec["250"]["a"]) == 1
        label = rv.op_date(random.Random(seed), rec, ctx)
        date = rec["260"]["c"]
        assert ("1984" in date) == (label == "date:printing-later") and ("1983" in date or "1984" in date)
        rv.op_extent(random.Random(seed), rec, ctx)
        assert int(rv.pages_match(rec["300"]["a"]).group("n")) == 244
    rec = copy_of(sources, "loc-cc0/nlm.xml#36")  # Anatomy, histology and cell biology, 3rd ed.
    labels = {rv.op_edition(random.Random(s), rec, ctx_of(rec)) for s in SEEDS}
    assert labels == {"edition:form"} and rv._edition_number(rec["250"]["a"]) == 3


def test_vernacular_moved_into_245_or_dropped(sources):
    seen = set()
    for seed in SEEDS:
        rec = copy_of(sources, ROMANISED)
        label = rv.op_vernacular(random.Random(seed), rec, ctx_of(rec))
        assert not rec.get_fields("880") and rec["245"].get("6") is None
        assert is_cjk(rec["245"]["a"]) == (label == "vernacular:moved")
        seen.add(label)
    assert seen == {"vernacular:moved", "vernacular:dropped"}


def test_script_and_fullwidth_on_chinese_fields(sources):
    rec = copy_of(sources, CNMARC)
    before = rec["200"]["a"]
    assert rv.op_script(random.Random(0), rec, ctx_of(rec)) == "script:traditional"
    assert rec["200"]["a"] != before and to_simplified(rec["200"]["a"]) == before
    assert rv.op_script(random.Random(0), rec, ctx_of(rec)) == "script:simplified"
    assert rec["200"]["a"] == before
    rec = copy_of(sources, ROMANISED)
    assert rv.op_fullwidth(random.Random(0), rec, ctx_of(rec)) == "fullwidth"
    vernacular_260 = next(x for x in rec.get_fields("880") if x["6"].startswith("260"))
    assert "：" in vernacular_260["a"] and ":" not in vernacular_260["a"]
    assert rec["260"]["a"].endswith(" :")  # the romanised field keeps its ASCII punctuation


def test_author_and_008_forms(sources):
    seen = set()
    for seed in SEEDS:
        rec = copy_of(sources, "pymarc/test.dat#8")  # Wall, Larry. with added entries
        label = rv.op_author(random.Random(seed), rec, ctx_of(rec))
        if label == "author:initials":
            assert rec["100"]["a"].rstrip(",") == "Wall, L."
        elif label == "author:added-dropped":
            assert not rec.get_fields("700")
        elif label == "author:dates-added":
            assert rec["100"]["d"].endswith("-")
        seen.add(label)
        rec = copy_of(sources, ENGLISH)
        assert rv.op_008(random.Random(seed), rec, ctx_of(rec)) == "008:short"
        assert len(rec["008"].data) < 40
    assert {"author:initials", "author:added-dropped"} <= seen


def test_marc21_chinese_book_reexpressed_as_cnmarc(sources):
    base = sources[CN_MARC21].rec
    out = rv.to_cnmarc(base, "PKU")
    assert detect_syntax(out) == "unimarc" and str(out.leader)[9] == "a"
    assert out["200"]["a"] == rv.strip_isbd(base["245"]["a"])
    assert out["210"]["c"] == rv.strip_isbd(base["260"]["b"])
    assert out["010"]["a"] == base["020"]["a"]
    a, b = (normalise(r, syntax="auto", member="x", record_id="1") for r in (base, out))
    assert (a.title, a.publisher, a.year, a.isbn13s) == (b.title, b.publisher, b.year, b.isbn13s)


def test_romanised_marc21_reexpressed_as_cnmarc_carries_the_vernacular(sources):
    out = rv.to_cnmarc(sources[ROMANISED].rec, "PKU")
    assert is_cjk(out["200"]["a"]) and is_cjk(out["210"]["c"])
    assert out["205"]["a"].startswith("第1版")


def test_cnmarc_reexpressed_as_marc21(sources):
    base = sources[CNMARC].rec
    out = rv.to_marc21(base, "RUC")
    assert detect_syntax(out) == "marc21"
    assert rv.strip_isbd(out["245"]["a"]) == base["200"]["a"]
    assert rv.strip_isbd(out["245"]["b"]) == base["200"]["e"]
    assert rv.strip_isbd(out["260"]["b"]) == base["210"]["c"]
    assert out["020"]["a"] == base["010"]["a"]
    assert out["008"].data[35:38] == "chi" and len(out["008"].data) == 40
    a, b = (normalise(r, syntax="auto", member="x", record_id="1") for r in (base, out))
    assert (a.title, a.publisher, a.year, a.isbn13s) == (b.title, b.publisher, b.year, b.isbn13s)


# ---------------------------------------------------------------- different-edition traps

def test_edition_trap_has_a_later_edition_year_and_other_isbn(sources):
    base = sources["loc-cc0/nlm.xml#36"].rec  # 3rd ed., 2007
    ctx = ctx_of(base)
    for seed in SEEDS:
        (trap,) = rv.trap_edition(random.Random(seed), base, ctx)
        assert rv._edition_number(trap["250"]["a"]) > 3
        assert rv.year_of(trap) > 2007
        assert not set(rv._isbn_values(trap)) & set(rv._isbn_values(base))


def test_volume_trap_makes_two_volumes(sources):
    base = sources[CNMARC].rec
    ctx = ctx_of(base)
    v1, v2 = rv.trap_volume(random.Random(0), base, ctx)
    assert (v1["200"]["h"], v2["200"]["h"]) == ("上册", "下册")
    base = sources[ENGLISH].rec
    v1, v2 = rv.trap_volume(random.Random(0), base, ctx_of(base))
    assert (v1["245"]["n"].rstrip(" ./"), v2["245"]["n"].rstrip(" ./")) == ("v. 1", "v. 2")


def test_number_in_title_trap_changes_the_number(sources):
    base = sources[CNMARC].rec  # '96 中国发展报告
    (trap,) = rv.trap_title_number(random.Random(0), base, ctx_of(base))
    assert trap["200"]["a"] != base["200"]["a"] and trap["200"]["a"].endswith("中国发展报告")


def test_carrier_trap_is_an_online_resource(sources):
    base = sources[ENGLISH].rec
    (trap,) = rv.trap_carrier(random.Random(0), base, ctx_of(base))
    assert trap["007"].data.startswith("cr") and trap["008"].data[23] == "o"
    assert trap["338"]["a"] == "online resource" and "online resource" in trap["300"]["a"]
    assert normalise(trap, syntax="auto", member="x", record_id="1").material_type == "ebook"
    base = sources[CNMARC].rec
    (trap,) = rv.trap_carrier(random.Random(0), base, ctx_of(base))
    assert trap["200"]["b"] == "电子资源" and trap.get_fields("135")
    assert rv.trap_carrier(random.Random(0), sources["dp2-cnmarc/sample_cnmarc.as_marcxml.xml#4"].rec,
                           ctx_of(base)) is None  # already an online resource


def test_publisher_set_and_translator_traps(found, sources):
    pools = rv.build_pools(found)
    base = sources[CNMARC].rec
    ctx = rv._context(base, pools)
    (trap,) = rv.trap_publisher(random.Random(0), base, ctx)
    assert trap["210"]["c"] != base["210"]["c"] and is_cjk(trap["210"]["c"])
    assert trap["210"]["d"] == base["210"]["d"] and trap["200"]["a"] == base["200"]["a"]
    (trap,) = rv.trap_set(random.Random(0), base, ctx)
    assert trap["215"]["a"] in ("2册", "3册")
    t1, t2 = rv.trap_translator(random.Random(0), base, ctx)
    n1, n2 = (t["702"]["a"] for t in (t1, t2))
    assert n1 != n2 and t1["702"]["4"] == "730" and t1["200"]["g"] == f"{n1}译"
    for t in (t1, t2):
        assert all(stdnum_isbn.is_valid(f["a"]) and f["a"] != base["010"]["a"] for f in t.get_fields("010"))


def test_variants_and_traps_stay_what_a_cataloguer_would_write(found, sources):
    # a first edition is never "überarbeitet" (revised); a Tibetan "Par theṅ 2" (a printing) is transcribed as it
    # stands, not translated into "Second edition"; "2 v. (324; 319 leaves)" stays two volumes
    for seed in SEEDS:
        assert "überarb" not in " ".join(rv.edition_forms(1, "ger", False, False))
        rec = copy_of(sources, "traject/test_data.utf8.mrc#24")
        before = rec["250"]["a"]
        assert rv.op_edition(random.Random(seed), rec, ctx_of(rec)) is None and rec["250"]["a"] == before
        rec = copy_of(sources, "loc-cc0/princeton.xml#24")
        assert rv.op_extent(random.Random(seed), rec, ctx_of(rec)) is None
    # a broken 880 (replacement characters) is dropped, never moved into the 245; a sound one is moved
    rec = copy_of(sources, "marc4j/chinese_mangled_multibyte.mrc#1")
    rv.vernacular_into_fields(rec, move=True)
    assert rec["245"]["a"].startswith("Che lun gun gun")
    rec = copy_of(sources, "marc4j/chinese_mangled_multibyte.mrc#2")
    rv.vernacular_into_fields(rec, move=True)
    assert rec["245"]["a"] == "車輪滾滾"
    # traps: another publisher is a named one in the record's own script; a set is several volumes; another
    # edition does not keep the base record's LCCN
    pools = rv.build_pools(found)
    assert not [p for _, p in pools.publishers_latin if "s.n." in p.casefold() or not rv._latin_script(p)]
    base = sources["loc-cc0/loc_general.xml#4"].rec  # Undisciplined heart, LCCN 2010501006
    made = rv.trap_publisher(random.Random(0), base, rv._context(base, pools))
    assert made and not rv.without_record_numbers(made[0]).get_fields("010")
    (trap,) = rv.trap_set(random.Random(0), copy_of(sources, "loc-cc0/princeton.xml#12"), ctx_of(base))
    assert trap["300"]["a"].split()[0] in ("2", "3")


def test_a_recatalogued_translation_keeps_its_translator(found, sources):
    base = sources[CNMARC].rec
    ctx = rv._context(base, rv.build_pools(found))
    t1, _t2 = rv.trap_translator(random.Random(0), base, ctx)
    for seed in SEEDS:
        rec, ops = rv.make_variant(random.Random(seed), t1, ctx, "PKU", rv.Settings(), keep=rv.TRAP_KEEPS["translator"])
        assert not any(op.startswith("author:") for op in ops)
        assert rec.get_fields("702") or rec.get_fields("700")  # the translator is still named (CNMARC or MARC21)


def test_a_publisher_trap_renames_the_house_that_compiled_the_book(found, sources):
    """LC's 整党学习材料 is "本社编" (compiled by this house) with the house, 辽宁人民出版社, as 710 and its 880: another
    publisher's edition names that publisher there too, or the trap's record would contradict itself."""
    label = next(k for k, s in sources.items() if any("Zheng dang" in f.value() for f in s.rec.get_fields("245")))
    base = sources[label].rec
    (trap,) = rv.trap_publisher(random.Random(0), base, rv._context(base, rv.build_pools(found)))
    house = next(f for f in trap.get_fields("880") if f["6"].startswith("710"))["a"]
    publisher = next(f for f in trap.get_fields("880") if f["6"].startswith("260"))["b"]
    assert house.rstrip(".") != "辽宁　人氱　出版社" and house.rstrip(".") == publisher.rstrip(" :")
    assert trap["710"]["a"].rstrip(".") == trap["260"]["b"].rstrip(" :") != "Liaoning ren min chu ban she"
