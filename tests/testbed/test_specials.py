"""The test bed's special members (`up(specials=True)`): a stock MARC21 Zebra and a member that requires a login,
behind the fault proxy like the others, written into the registry so that the product reaches both."""

from __future__ import annotations

import dataclasses
import os

import pytest

from connectors.auth import REFUSED_ZH, REQUIRED_ZH
from connectors.query import parse
from federator.federation import Federator
from members import load_registry
from testbed.bed import Testbed
from testbed.yaz import yaz_search

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    bed = Testbed(tmp_path_factory.mktemp("specials") / "bed", seed=11)
    with bed.running(members=1, records=10, specials=True):
        yield bed


async def test_special_members_are_in_the_registry_and_answer(bed):
    registry = load_registry(bed.registry_path)
    assert [m.code for m in registry] == ["THU", "NLCW", "CALIS"]
    nlcw, calis = registry.get("NLCW"), registry.get("CALIS")
    assert nlcw.negotiate_charset is False and nlcw.protocols == ("z3950",) and nlcw.auth is None
    assert calis.auth.user == "balis" and calis.auth.password_file and calis.protocols == ("z3950", "sru")
    assert oct(os.stat(calis.auth.password_file).st_mode & 0o777) == "0o600"
    assert calis.auth.password() not in bed.registry_path.read_text()
    status = {s["code"]: s for s in bed.status()}
    assert status["NLCW"]["running"] and status["NLCW"]["records"] == 50 and "stock" in status["NLCW"]["note"]
    assert status["CALIS"]["records"] > 0 and "login" in status["CALIS"]["note"]
    with pytest.raises(ValueError, match="fixed"):
        bed.change_catalogue("NLCW", delete=["x"])

    z3950_only = dataclasses.replace(calis, endpoints=tuple(e for e in calis.endpoints if e.protocol == "z3950"))
    sru_only = dataclasses.replace(calis, code="CALISSRU",
                                   endpoints=tuple(e for e in calis.endpoints if e.protocol == "sru"))
    async with Federator([registry.get("THU"), nlcw, z3950_only, sru_only], cache_ttl=0, answer_times=None) as fed:
        result = await fed.run(parse("history"), per_member=2)
    outcomes = [(o.code, o.protocol, o.status) for o in result.outcomes]
    assert all(status == "ok" for _, _, status in outcomes), [(o.code, o.error) for o in result.outcomes]
    assert ("CALIS", "z3950", "ok") in outcomes and ("CALISSRU", "sru", "ok") in outcomes


async def test_login_member_refuses_without_and_with_a_wrong_login(bed, tmp_path):
    registry = load_registry(bed.registry_path)
    calis = registry.get("CALIS")
    anonymous = dataclasses.replace(calis, auth=None)
    (tmp_path / "wrong").write_text("wrong")
    wrong = dataclasses.replace(calis, code="CALIS2", auth=dataclasses.replace(calis.auth,
                                                                                password_file=str(tmp_path / "wrong")))
    async with Federator([anonymous, wrong, registry.get("THU")], cache_ttl=0, answer_times=None) as fed:
        result = await fed.run(parse("中国"), per_member=2)
    by_code = {o.code: o for o in result.outcomes}
    assert by_code["CALIS"].error.startswith(REQUIRED_ZH) and by_code["CALIS2"].error.startswith(REFUSED_ZH)
    assert by_code["THU"].status == "ok"
    assert yaz_search(calis.endpoint("z3950").port, "@attr 1=4 中国").hits is None  # yaz-client is refused too
