"""A year of consortium loan traffic on the test bed's collections: the router against three baselines and an oracle.

Collections: `testbed.generate` plans for 16 members (bigger libraries hold more), read back through the
product's normaliser and merged by `dedup.merge`, so the router sees the works the union catalogue shows.

Hidden from every strategy (drawn per seed): each lender's probability of supplying a copy its OPAC shows on
the shelf (misshelved, damaged, staff too busy), its mean days from request to shipping, its days to answer
"Unfilled", and how many requests its ILL desk handles before it slows down and fills less. The router learns
fill rates and days only from the outcomes of its own past requests (the history `ill.stats.lender_history`
would give), and sees what staff see: live item status, the lenders' open requests, the registry.

Traffic: about 4,000 loan requests over 365 days; the reader's home library is drawn with weights after the
consortium's 2009 figures (清华大学 sent most requests: 550 of 3,979); the edition by popularity (Zipf). An
edition the reader's own library has on the shelf is borrowed there, not requested. Items circulate: each
copy is borrowed locally as a Poisson process (about every 4 months) for about a month, and a copy lent
through ILL is gone for about 40 days. Each request carries an ISO 18626 need-before date (7-21 days); a
request not supplied by then is unfilled. A lender that cannot fill answers Unfilled after its answer delay
and the request moves to the next lender in the rota (at most 5).

Strategies (all use the same exclusion rules: suspended, lending policy, not-for-loan locations, own library):
  router        routing.build_rota with the learned history, live status and load
  random        the eligible holders in random order
  registry      the eligible holders in registry order
  most_holdings the eligible holders by collection size, largest first
  available_first (reference, not a target) registry order, members with a copy on the shelf first
  oracle_fill   (ceiling) reads the hidden truth: the lender most likely to supply right now first
  oracle_days   (ceiling) reads the hidden truth: chance ÷ expected days spent at the lender, highest first

The oracles read what no router can: each lender's true fill probability, days to ship and to answer, and
its desk capacity (so the slowdown its present load causes); and whether a copy is on the shelf now (the
simulated OPACs show that truthfully, so the router sees it too, though it still gives a copy due back soon
a small chance).
No one order is best at both figures (the fastest supply is not always the likeliest), so each figure's
ceiling is the better of the two oracle rows; the benchmark prints how much of the gap between the random
baseline and that ceiling the router closes, per seed, on first-lender fill rate and on days to supply
(target: 75 % on both in every seed).

Every strategy sees the same request stream, the same local circulation and the same lender coin flips
(common random numbers). Writes benchmarks/results/routing.json.

    .venv/bin/python benchmarks/routing.py [--seeds 1 2 3] [--requests 4000]
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup import merge  # noqa: E402
from members import DEFAULT_LENDING, Member, parse_lending  # noqa: E402
from records.model import AVAILABLE, NOT_FOR_LOAN, ON_LOAN, Holding  # noqa: E402
from routing import build_rota  # noqa: E402
from routing.districts import load_districts  # noqa: E402
from testbed.generate import BASE_DATE, plan_catalogues, plan_records  # noqa: E402
from testbed.members import DEFAULT_LENDING as TESTBED_DEFAULT_LENDING  # noqa: E402
from testbed.members import LENDING as TESTBED_LENDING  # noqa: E402
from testbed.members import member_profiles  # noqa: E402

MEMBERS = 16
# records per member: the big research libraries hold more (the "most holdings" baseline's favourites)
SIZES = {"THU": 650, "PKU": 650, "RUC": 520, "BNU": 450, "BUAA": 420, "BIT": 400, "CAU": 360}
DEFAULT_SIZE = 260
# requests sent per member, after the 2009 figures (THU most, 550 of 3,979); the rest share what remains
HOME_WEIGHTS = {"THU": 550, "PKU": 420, "BUAA": 300, "BNU": 280, "RUC": 240, "BIT": 230, "USTB": 220}
DEFAULT_HOME_WEIGHT = 160
YEAR_DAYS = 365
LOCAL_LOAN_EVERY = 120.0  # mean days between local loans of a copy on the shelf
LOCAL_LOAN_DAYS = (21, 42)
ILL_AWAY_DAYS = (35, 45)  # a copy lent through ILL: the loan month, courier both ways, checking
NEED_BEFORE = (7, 21)  # ISO 18626 NeedBeforeDate, days after submission
MAX_LENDERS = 5
ORACLES = ("oracle_fill", "oracle_days")  # ceilings: they read the hidden truth
STRATEGIES = ("router", "random", "registry", "most_holdings", "available_first", *ORACLES)
TARGETS = ("router", "random", "registry", "most_holdings")


# -- hidden truth ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Lender:
    """What only the simulation knows about a lender."""

    fill: float  # P(supplies | a copy is on the shelf and the desk is not overloaded)
    days: float  # mean days from receiving a request to shipping
    answer: float  # mean days to answer Unfilled
    capacity: int  # open requests the desk handles before slowing down


def hidden_truth(seed: int, codes: list[str]) -> dict[str, Lender]:
    rng = random.Random(f"truth-{seed}")
    out = {}
    for code in codes:
        out[code] = Lender(fill=rng.uniform(0.30, 0.95), days=rng.uniform(0.8, 4.5), answer=rng.uniform(0.5, 2.5),
                           capacity=rng.randint(3, 8))
    # the two members that lent most in 2009 are good lenders in every seed
    for code in ("RUC", "CUPL"):
        if code in out:
            out[code].fill = max(out[code].fill, 0.85)
    return out


def crn(*parts) -> float:
    """A uniform number fixed by its key: the same draw for every strategy (common random numbers)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


# -- the world -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Copy:
    holding: Holding
    busy_until: float = 0.0  # day the copy is back on the shelf
    cursor: float = 0.0  # local circulation simulated up to this day
    draws: int = 0


class World:
    """Copies circulating locally (lazily, as a Poisson process per copy) and through ILL."""

    def __init__(self, seed: int, works) -> None:
        self.seed = seed
        self.copies: dict[str, list[Copy]] = {}
        for w in works:
            cs = []
            for h in w.holdings:
                c = Copy(h)
                if h.status == ON_LOAN and h.due_date:
                    c.busy_until = max(0.0, float((_date(h.due_date) - BASE_DATE).days))
                    c.cursor = c.busy_until
                cs.append(c)
            self.copies[w.work_id] = cs

    def _advance(self, wid: str, i: int, c: Copy, t: float) -> None:
        if c.holding.status == NOT_FOR_LOAN:
            return
        while c.cursor < t:
            gap = -math.log(1.0 - crn(self.seed, "local", wid, i, c.draws)) * LOCAL_LOAN_EVERY
            length = LOCAL_LOAN_DAYS[0] + crn(self.seed, "len", wid, i, c.draws) * (LOCAL_LOAN_DAYS[1] - LOCAL_LOAN_DAYS[0])
            c.draws += 1
            start = c.cursor + gap
            if start >= t:
                c.cursor = t
                break
            c.busy_until = max(c.busy_until, start + length)
            c.cursor = c.busy_until

    def state(self, wid: str, t: float) -> list[tuple[Copy, bool]]:
        out = []
        for i, c in enumerate(self.copies[wid]):
            self._advance(wid, i, c, t)
            out.append((c, c.busy_until <= t))
        return out

    def live(self, wid: str, t: float) -> dict[str, list[Holding]]:
        """What the members' OPACs show right now (the router's live status)."""
        out: dict[str, list[Holding]] = {}
        for c, free in self.state(wid, t):
            h = c.holding
            if h.status == NOT_FOR_LOAN:
                shown = h
            elif free:
                shown = Holding(h.member, h.call_number, h.location, AVAILABLE, None, h.barcode)
            else:
                due = (BASE_DATE + timedelta(days=int(c.busy_until))).isoformat()
                shown = Holding(h.member, h.call_number, h.location, ON_LOAN, due, h.barcode)
            out.setdefault(h.member, []).append(shown)
        return out


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text[:10])


# -- one strategy over one year --------------------------------------------------------------------------
@dataclass(slots=True)
class Request:
    rid: int
    t: float
    home: str
    work: object
    need_by: float
    rota: list[str] = field(default_factory=list)
    attempt: int = 0
    outcome: str = "open"
    first_filled: bool = False
    done_at: float | None = None


def simulate(strategy: str, seed: int, works, members: list[Member], requests: list[tuple[float, str, int]],
             truth: dict[str, Lender], sizes: dict[str, int]) -> dict:
    world = World(seed, works)
    by_code = {m.code: m for m in members}
    order = {m.code: i for i, m in enumerate(members)}
    districts = load_districts()
    history: dict[str, dict] = {m.code: {"requests": 0, "filled": 0, "supply_days_total": 0.0, "open": 0}
                                for m in members}
    load = {m.code: 0 for m in members}
    events: list[tuple[float, int, str, Request, str | None]] = []
    seq = 0
    reqs = []
    for rid, (t, home, wi) in enumerate(requests):
        r = Request(rid, t, home, works[wi], t + NEED_BEFORE[0] + crn(seed, "need", rid) * (NEED_BEFORE[1] - NEED_BEFORE[0]))
        reqs.append(r)
        events.append((t, seq, "submit", r, None))
        seq += 1
    heapq.heapify(events)

    def push(t, kind, r, lender=None):
        nonlocal seq
        heapq.heappush(events, (t, seq, kind, r, lender))
        seq += 1

    def send(r: Request, t: float) -> None:
        """Send the request to the next lender in its rota, or close it unfilled."""
        if r.attempt >= len(r.rota) or t > r.need_by:
            r.outcome, r.done_at = "unfilled", t
            return
        code = r.rota[r.attempt]
        lender = truth[code]
        over = max(0, load[code] - lender.capacity) / lender.capacity
        load[code] += 1
        history[code]["open"] += 1
        history[code]["requests"] += 1  # as ill.stats.lender_history counts: every request that reached it
        shelf = [(c, free) for c, free in world.state(r.work.work_id, t)
                 if c.holding.member == code and free and c.holding.status != NOT_FOR_LOAN
                 and by_code[code].lending.location_lendable(c.holding.location)]
        ok = bool(shelf) and crn(seed, "fill", r.rid, code) < lender.fill / (1.0 + over)
        if ok:
            days = lender.days * (0.5 + crn(seed, "days", r.rid, code)) * (1.0 + over)
            shelf[0][0].busy_until = t + ILL_AWAY_DAYS[0] + crn(seed, "away", r.rid) * (ILL_AWAY_DAYS[1] - ILL_AWAY_DAYS[0])
            shelf[0][0].cursor = max(shelf[0][0].cursor, shelf[0][0].busy_until)
            push(t + days, "shipped", r, code)
        else:
            push(t + lender.answer * (0.5 + crn(seed, "answer", r.rid, code)) * (1.0 + over), "unfilled", r, code)

    while events:
        t, _, kind, r, code = heapq.heappop(events)
        if kind == "submit":
            r.rota = choose(strategy, r, t, world, members, by_code, order, history, load, districts, sizes, seed,
                            truth)
            if r.rota is None:  # the home library's copy came back meanwhile: borrowed there
                r.outcome = "local"
                continue
            send(r, t)
            continue
        load[code] -= 1
        h = history[code]
        h["open"] -= 1
        if kind == "shipped":
            h["filled"] += 1
            h["supply_days_total"] += t - (r.t if r.attempt == 0 else r.done_at)
            km = districts.km(by_code[r.home].district, by_code[code].district) or 0.0
            r.outcome, r.first_filled = "filled", r.attempt == 0
            r.done_at = t + 0.5 + km / 50.0  # courier to the borrowing library
        else:
            r.attempt += 1
            r.done_at = t
            send(r, t)

    local = sum(r.outcome == "local" for r in reqs)
    outcomes = [None if r.outcome == "local" else int(r.outcome == "filled") for r in reqs]
    reqs = [r for r in reqs if r.outcome != "local"]
    filled = [r for r in reqs if r.outcome == "filled"]
    return {
        "requests": len(reqs),
        "borrowed_at_home_meanwhile": local,
        "fill_rate": len(filled) / len(reqs),
        "first_lender_fill_rate": sum(r.first_filled for r in reqs) / len(reqs),
        "mean_days_to_supply": statistics.fmean(r.done_at - r.t for r in filled) if filled else None,
        "lenders_asked_per_request": statistics.fmean(min(r.attempt + 1, len(r.rota)) for r in reqs if r.rota),
        "_outcomes": outcomes,
        "busiest_lender_share": max(sum(1 for r in filled if r.rota[r.attempt] == c) for c in by_code) / max(1, len(filled)),
    }


def paired_gain(router: list, other: list) -> dict:
    """The router's fill-rate gain over another strategy on the same requests, with a normal 95% interval."""
    diffs = [a - b for a, b in zip(router, other, strict=True) if a is not None and b is not None]
    mean = statistics.fmean(diffs)
    half = 1.96 * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return {"gain": round(mean, 4), "low": round(mean - half, 4), "high": round(mean + half, 4), "n": len(diffs)}


GAP_FIGURES = {"first_lender_fill_rate": max, "mean_days_to_supply": min}  # figure: which way is better
GAP_TARGET = 0.75


def gap_closed(strategies: dict) -> dict:
    """How much of the gap between the random baseline and the oracle the router closes, per figure: 1.0
    is as good as the oracle, 0 no better than random. The oracle's figure is the better of the two oracle
    rows (the ceiling), since no one order is best at both."""
    out = {}
    for k, best in GAP_FIGURES.items():
        rnd, rtr = strategies["random"][k], strategies["router"][k]
        orc = best(strategies[o][k] for o in ORACLES)
        out[k] = round((rtr - rnd) / (orc - rnd), 4) if orc != rnd else None
        out[k + "_ceiling"] = orc
    return out


def choose(strategy: str, r: Request, t: float, world: World, members, by_code, order, history, load, districts,
           sizes, seed, truth) -> list[str] | None:
    live = world.live(r.work.work_id, t)
    now = BASE_DATE + timedelta(days=int(t))
    if strategy == "router":
        rota = build_rota(r.work, r.home, members, history=history, load=load, live_status=live,
                          max_lenders=MAX_LENDERS, now=now, districts=districts)
        return None if rota.own_available else rota.codes
    # the baselines apply the same rules (who may lend), and order the eligible holders their own way
    rota = build_rota(r.work, r.home, members, live_status=live, max_lenders=len(members), now=now,
                      districts=districts)
    if rota.own_available:
        return None
    eligible = [e.member for e in rota.lenders]
    if strategy == "random":
        rng = random.Random(f"{seed}-{r.rid}")
        rng.shuffle(eligible)
    elif strategy == "registry":
        eligible.sort(key=order.get)
    elif strategy == "most_holdings":
        eligible.sort(key=lambda c: (-sizes[c], order[c]))
    elif strategy == "available_first":
        shelf = {e.member for e in rota.lenders if e.availability == AVAILABLE}
        eligible.sort(key=lambda c: (c not in shelf, order[c]))
    elif strategy in ORACLES:
        eligible.sort(key=lambda c: oracle_key(strategy, c, r, t, world, by_code, order, load, districts, truth))
    return eligible[:MAX_LENDERS]


def oracle_key(strategy: str, code: str, r: Request, t: float, world: World, by_code, order, load, districts,
               truth) -> tuple:
    """A lender's place for an oracle, from what only the simulation knows: whether a copy is really on the
    shelf, and the lender's true chance of supplying it, days to ship and to answer under its present load.

    oracle_fill asks first the lender most likely to supply (the most first-lender fills one request can
    get); oracle_days orders by chance ÷ expected days spent at the lender, the order that gives the least
    expected time to a supply when lenders are asked one after another (the classic sequential-search rule).
    """
    lender = truth[code]
    over = max(0, load[code] - lender.capacity) / lender.capacity
    on_shelf = any(free and c.holding.member == code and c.holding.status != NOT_FOR_LOAN
                   and by_code[code].lending.location_lendable(c.holding.location)
                   for c, free in world.state(r.work.work_id, t))
    p = lender.fill / (1.0 + over) if on_shelf else 0.0
    km = districts.km(by_code[r.home].district, by_code[code].district) or 0.0
    supply = lender.days * (1.0 + over) + 0.5 + km / 50.0  # to ship, then the courier (as simulate counts)
    answer = lender.answer * (1.0 + over)
    if strategy == "oracle_fill":
        return (-p, supply, order[code])
    return (-p / (p * supply + (1.0 - p) * answer), supply, order[code])


# -- traffic ---------------------------------------------------------------------------------------------
def traffic(seed: int, works, members: list[Member], n: int) -> list[tuple[float, str, int]]:
    """(day, home, work index) for n loan requests: homes by the 2009 weights, editions by popularity."""
    rng = random.Random(f"traffic-{seed}")
    codes = [m.code for m in members]
    weights = [HOME_WEIGHTS.get(c, DEFAULT_HOME_WEIGHT) for c in codes]
    popularity = list(range(len(works)))
    rng.shuffle(popularity)
    zipf = [1.0 / (rank + 1) ** 0.8 for rank in range(len(works))]
    work_weights = [0.0] * len(works)
    for rank, wi in enumerate(popularity):
        work_weights[wi] = zipf[rank]
    def candidates(count: int) -> list[tuple[float, str, int]]:
        picks = [(rng.uniform(0, YEAR_DAYS), rng.choices(codes, weights)[0],
                  rng.choices(range(len(works)), work_weights)[0]) for _ in range(count)]
        world = World(seed, works)  # local circulation only: what readers see when they decide to ask
        kept = []
        for t, home, wi in sorted(picks):
            rota = build_rota(works[wi], home, members, live_status=world.live(works[wi].work_id, t),
                              max_lenders=50, now=BASE_DATE + timedelta(days=int(t)))
            if not rota.own_available and (rota.lenders or rota.spare):
                kept.append((t, home, wi))  # else borrowed at home, or nobody may lend it: no ILL form
        return kept

    share = max(len(candidates(500)) / 500, 0.01)  # how many readers' wishes become ILL requests
    out = candidates(int(n / share * 1.15) + 50)
    if len(out) > n:
        out = rng.sample(out, n)
    out.sort()
    return out


def setup(seed: int):
    profiles = member_profiles(MEMBERS)
    sizes = {p.code: SIZES.get(p.code, DEFAULT_SIZE) for p in profiles}
    plan = plan_catalogues(seed, profiles, sizes)
    works = [w for w in merge(plan_records(plan)) if w.holdings]
    base = parse_lending(Path("testbed"), "defaults", TESTBED_DEFAULT_LENDING, DEFAULT_LENDING)
    members = [Member(code=p.code, name=p.name, name_en=p.name_en, district=p.district,
                      lending=parse_lending(Path("testbed"), p.code, TESTBED_LENDING[p.code], base)
                      if p.code in TESTBED_LENDING else base) for p in profiles]
    return works, members, sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "routing.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    names = [n for n in STRATEGIES if n in args.strategies or n == "router"]
    runs = []
    for seed in args.seeds:
        works, members, sizes = setup(seed)
        truth = hidden_truth(seed, [m.code for m in members])
        requests = traffic(seed, works, members, args.requests)
        run = {"seed": seed, "works": len(works), "requests": len(requests), "strategies": {}}
        for strategy in names:
            run["strategies"][strategy] = simulate(strategy, seed, works, members, requests, truth, sizes)
        outcomes = {name: s.pop("_outcomes") for name, s in run["strategies"].items()}
        run["router_fill_gain"] = {b: paired_gain(outcomes["router"], outcomes[b]) for b in names[1:]}
        if {"random", *ORACLES} <= set(names):
            run["router_gap_closed"] = gap_closed(run["strategies"])
        runs.append(run)
        print(f"seed {seed}: {len(works)} editions, {len(requests)} requests")
        for name, s in run["strategies"].items():
            print(f"  {name:<16} fill {s['fill_rate']:.1%}  first lender {s['first_lender_fill_rate']:.1%}  "
                  f"days {s['mean_days_to_supply']:.2f}  lenders asked {s['lenders_asked_per_request']:.2f}  "
                  f"busiest lender {s['busiest_lender_share']:.0%}")
        print("  router's fill-rate gain, paired by request (95% interval): " + ", ".join(
            f"{b} {g['gain']:+.1%} [{g['low']:+.1%}, {g['high']:+.1%}]" for b, g in run["router_fill_gain"].items()))
        if "router_gap_closed" in run:
            g = run["router_gap_closed"]
            print(f"  router closes {g['first_lender_fill_rate']:.0%} of the gap between random and oracle on "
                  f"first-lender fill rate, {g['mean_days_to_supply']:.0%} on days to supply")
        sys.stdout.flush()
    summary = {}
    for name in names:
        rows = [r["strategies"][name] for r in runs]
        summary[name] = {k: round(statistics.fmean(x[k] for x in rows), 4)
                         for k in ("fill_rate", "first_lender_fill_rate", "mean_days_to_supply")}
    beats = {
        f"router_beats_{b}": {
            "fill_rate": all(r["strategies"]["router"]["fill_rate"] > r["strategies"][b]["fill_rate"] for r in runs),
            "first_lender_fill_rate": all(r["strategies"]["router"]["first_lender_fill_rate"]
                                          > r["strategies"][b]["first_lender_fill_rate"] for r in runs),
            "mean_days_to_supply": all(r["strategies"]["router"]["mean_days_to_supply"]
                                       < r["strategies"][b]["mean_days_to_supply"] for r in runs),
        } for b in TARGETS if b != "router" and b in names}
    print("\nmean over seeds " + ", ".join(map(str, args.seeds)) + ":")
    for name, s in summary.items():
        print(f"  {name:<16} fill {s['fill_rate']:.1%}  first lender {s['first_lender_fill_rate']:.1%}  "
              f"days {s['mean_days_to_supply']:.2f}")
    ok = all(all(v.values()) for v in beats.values())
    print(f"\nrouter beats every baseline on all three figures in every seed: {'yes' if ok else 'NO'}")
    doc = {"benchmark": "routing", "seeds": args.seeds, "requests_per_seed": args.requests, "members": MEMBERS,
           "max_lenders": MAX_LENDERS, "summary": summary, "router_beats_in_every_seed": beats, "all_targets_met": ok}
    if all("router_gap_closed" in r for r in runs):
        worst = {k: min(r["router_gap_closed"][k] for r in runs) for k in GAP_FIGURES}
        gap_ok = all(v >= GAP_TARGET for v in worst.values())
        print(f"router closes at least {GAP_TARGET:.0%} of the gap to the oracle on both figures in every seed: "
              f"{'yes' if gap_ok else 'NO'} (worst seed: first-lender fill rate "
              f"{worst['first_lender_fill_rate']:.0%}, days {worst['mean_days_to_supply']:.0%})")
        doc["router_gap_closed_worst_seed"] = worst
        doc["gap_target"] = GAP_TARGET
        doc["gap_target_met"] = gap_ok
        doc["all_targets_met"] = ok and gap_ok
    doc["runs"] = runs
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(f"wrote {args.out} ({doc['seconds']} s)")

if __name__ == "__main__":
    main()
