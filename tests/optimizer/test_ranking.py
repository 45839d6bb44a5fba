"""The ranked site plan (optimizer.ranking) against brute-force recomputation with the evaluator.

Small joint instances drawn entry by entry by hypothesis (so failures shrink) with a plan made feasible by
setting the budgets and the room just above what it uses, so that substitutes are often blocked
by money or room. Every figure of ``rank_plan`` is recomputed pair by pair with
``models.multiservice.evaluate_joint``: the greedy order and its gains, the drop-one loss, the best
substitute (by enumeration of every unused site and phase), the per-group newly covered people,
and the cumulative columns.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from siting.models.multiservice import MultiServiceInstance, ServiceData, evaluate_joint
from siting.optimizer.ranking import earliest_phases, greedy_order, rank_plan

TOL = 1e-9


@st.composite
def random_case(draw: st.DrawFn, carry_over: bool = True) -> tuple[MultiServiceInstance, np.ndarray, np.ndarray]:
    """An instance, a feasible plan on it, and demand groups (n, 2), every entry drawn by hypothesis
    (so a failure shrinks): budgets and room are set just above what the plan uses."""

    def ints(shape: int | tuple[int, int], lo: int, hi: int, label: str) -> np.ndarray:
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi)), label=label)

    def flags(shape: int | tuple[int, int], label: str) -> np.ndarray:
        return draw(hnp.arrays(np.bool_, shape), label=label)

    S = 2
    m, n = draw(st.integers(4, 7), label="m"), draw(st.integers(6, 13), label="n")
    T = draw(st.integers(1, 3), label="T")
    services = []
    for s in range(S):
        elig = flags(m, f"eligible {s}") | (np.arange(m) == s)
        ex = flags(n, f"existing covered {s}")
        services.append(
            ServiceData(
                name=f"svc{s}",
                weights=ints(n, 0, 11, f"weights {s}").astype(float),  # small integers: ties happen
                coverage=sp.csr_array(flags((n, m), f"coverage {s}")),
                distances=None,
                cost=np.where(elig, ints(m, 1, 5, f"cost {s}").astype(float), np.nan),
                eligible=elig,
                area=float(draw(st.integers(1, 2), label=f"area {s}")),
                existing_covered=ex,
                existing_distance=np.where(ex, 0.0, np.inf),
                weight=float(draw(st.sampled_from([0.5, 1.0, 2.0]), label=f"weight {s}")),
            )
        )
    plan = np.full((S, m), -1, dtype=np.int8)
    for s, svc in enumerate(services):
        pick = svc.eligible & flags(m, f"plan {s}")
        pick[s] = True
        plan[s, pick] = ints(m, 0, T - 1, f"phases {s}")[pick]
    opened = plan >= 0
    cost_m = np.stack([np.where(svc.eligible, svc.cost, 0.0) for svc in services])
    spend = float(cost_m[opened].sum())
    by_phase = np.bincount(plan[opened].astype(int), weights=cost_m[opened], minlength=T)
    area = np.array([svc.area for svc in services])
    used = area @ opened.astype(float)
    room = used + ints(m, 0, 2, "spare room")
    room[flags(m, "unlimited room")] = np.inf
    inst = MultiServiceInstance(
        demand_ids=np.array([f"d{i:02d}" for i in range(n)], dtype=object),
        site_ids=np.array([f"p{j:02d}" for j in range(m)], dtype=object),  # string order = index order
        room=room,
        services=tuple(services),
        total_budget=spend + float(draw(st.integers(0, 3), label="spare budget")),
        phases=tuple(f"y{t}" for t in range(T)),
        phase_budgets=by_phase + ints(T, 0, 2, "spare phase budgets") if T > 1 else None,
        carry_over=carry_over,
    )
    groups = ints((n, 2), 0, 29, "groups").astype(float)
    assert evaluate_joint(inst, plan).violations == []
    return inst, plan, groups


def brute_order(inst: MultiServiceInstance, plan: np.ndarray) -> tuple[list[tuple[int, int]], list[float]]:
    """Greedy by weighted marginal coverage, recounted with the evaluator; ties (service name, site)."""
    names = [svc.name for svc in inst.services]
    order: list[tuple[int, int]] = []
    gains: list[float] = []
    cur = np.full(plan.shape, -1, dtype=np.int8)
    for t in sorted(set(plan[plan >= 0].tolist())):
        left = [(int(s), int(j)) for s, j in zip(*np.nonzero(plan == t))]
        while left:
            base = evaluate_joint(inst, cur).covered_people
            g = []
            for s, j in left:
                trial = cur.copy()
                trial[s, j] = 0
                g.append(inst.services[s].weight * (evaluate_joint(inst, trial).covered_people[s] - base[s]))
            best = max(g)
            tied = [k for k in range(len(left)) if abs(g[k] - best) <= TOL * max(1.0, abs(best))]
            k = min(tied, key=lambda q: (names[left[q][0]], left[q][1]))
            s, j = left.pop(k)
            cur[s, j] = 0
            order.append((s, j))
            gains.append(g[k])
    return order, gains


@settings(max_examples=40, deadline=None)
@given(data=st.data(), carry=st.booleans())
def test_rank_plan_matches_brute_force(data: st.DataObject, carry: bool) -> None:
    inst, plan, groups = data.draw(random_case(carry), label="case")
    rows = rank_plan(inst, plan, groups=groups)
    full = evaluate_joint(inst, plan)

    # order and gains: the evaluator's greedy recount, phase by phase
    order, gains = brute_order(inst, plan)
    assert [(r.service, r.site) for r in rows] == order
    np.testing.assert_allclose([r.gain_weighted for r in rows], gains, atol=1e-9)
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert [r.phase for r in rows] == sorted(r.phase for r in rows)

    # cumulative columns add up to the evaluator's totals
    np.testing.assert_allclose([r.cumulative_cost for r in rows], np.cumsum([r.cost for r in rows]))
    assert rows[-1].cumulative_cost == pytest.approx(full.total_cost)
    for s, svc in enumerate(inst.services):
        mine = [r for r in rows if r.service == s]
        before = float(svc.weights[svc.existing_covered].sum())
        assert before + sum(r.gain_people for r in mine) == pytest.approx(full.covered_people[s])
        np.testing.assert_allclose([r.covered_after for r in mine], before + np.cumsum([r.gain_people for r in mine]))
        assert (
            mine[-1].coverage_share == pytest.approx(full.covered_people[s] / svc.weights.sum())
            if svc.weights.sum()
            else True
        )

    cur = np.full(plan.shape, -1, dtype=np.int8)
    for r in rows:
        s, j, t = r.service, r.site, r.phase
        w = inst.services[s].weights
        # newly covered per group: the points this row brings within reach of its service
        before_cov = evaluate_joint(inst, cur).covered[s]
        cur[s, j] = 0
        newly = evaluate_joint(inst, cur).covered[s] & ~before_cov
        np.testing.assert_allclose(r.new_by_group, groups[newly].sum(axis=0))
        assert r.gain_people == pytest.approx(w[newly].sum())

        # drop-one loss: the evaluator's recount without this pair
        without = plan.copy()
        without[s, j] = -1
        lost = full.covered[s] & ~evaluate_joint(inst, without).covered[s]
        assert r.drop_one_loss == pytest.approx(w[lost].sum())

        # best substitute by enumeration: every unused eligible site, the earliest phase >= t that passes the evaluator
        best = None
        for j2 in np.flatnonzero(inst.services[s].eligible & (plan[s] < 0)):
            for u in range(t, inst.T):
                trial = without.copy()
                trial[s, j2] = u
                met = evaluate_joint(inst, trial)
                if not met.violations:
                    rec = float(w[lost & met.covered[s]].sum())
                    if rec > 0:
                        key = (-rec, float(inst.services[s].cost[j2]), u, int(j2))
                        best = key if best is None or key < best else best
                    break
        if best is None:
            assert r.substitute is None and r.substitute_recovers == 0
        else:
            assert (r.substitute, r.substitute_phase) == (best[3], best[2])
            assert r.substitute_recovers == pytest.approx(-best[0])
            assert r.substitute_cost == pytest.approx(best[1])


def test_ranking_of_a_hand_checked_plan() -> None:
    """Hand-checked: 4 demand points of weight 5, 3, 2, 1; one service, three opened sites.

    Site a covers {0, 1}, b covers {1, 2}, c covers {3}; d (unused) covers {0}, e (unused) covers {2, 3}.
    Greedy: a gains 8, then b gains 2 (point 1 is taken), then c gains 1. Drop-one: a loses 5
    (point 1 is also b's), b loses 2, c loses 1. Substitutes: for a, d recovers 5; for b, e recovers 2
    (it also covers 3, which c keeps; the plan then costs 5 - 2 + 4 = 7, the budget); for c, e would
    recover 1 but the plan would cost 5 - 1 + 4 = 8 > 7: e does not fit, and no other site reaches point 3.
    """
    cov = np.array(
        [
            # a  b  c  d  e
            [1, 0, 0, 1, 0],
            [1, 1, 0, 0, 0],
            [0, 1, 0, 0, 1],
            [0, 0, 1, 0, 1],
        ],
        dtype=bool,
    )
    svc = ServiceData(
        name="care",
        weights=np.array([5.0, 3.0, 2.0, 1.0]),
        coverage=sp.csr_array(cov),
        distances=None,
        cost=np.array([2.0, 2.0, 1.0, 2.0, 4.0]),
        eligible=np.ones(5, dtype=bool),
        area=1.0,
        existing_covered=np.zeros(4, dtype=bool),
        existing_distance=np.full(4, np.inf),
    )
    inst = MultiServiceInstance(
        demand_ids=np.arange(4),
        site_ids=np.array(list("abcde"), dtype=object),
        room=np.full(5, np.inf),
        services=(svc,),
        total_budget=7.0,
    )
    plan = np.array([[0, 0, 0, -1, -1]], dtype=np.int8)
    rows = rank_plan(inst, plan)
    assert [r.site for r in rows] == [0, 1, 2]
    assert [r.gain_people for r in rows] == [8.0, 2.0, 1.0]
    assert [r.drop_one_loss for r in rows] == [5.0, 2.0, 1.0]
    assert [(r.substitute, r.substitute_recovers) for r in rows] == [(3, 5.0), (4, 2.0), (None, 0.0)]
    assert rows[2].n_recovering == 1  # e would reach point 3 but does not fit the budget
    assert [r.cumulative_cost for r in rows] == [2.0, 4.0, 5.0]


@settings(max_examples=25, deadline=None)
@given(data=st.data(), carry=st.booleans())
def test_earliest_phases_keeps_the_plan_and_its_budgets(data: st.DataObject, carry: bool) -> None:
    inst, plan, _ = data.draw(random_case(carry), label="case")
    new = earliest_phases(inst, plan)
    assert ((new >= 0) == (plan >= 0)).all(), "the same pairs open"
    before, after = evaluate_joint(inst, plan), evaluate_joint(inst, new)
    assert after.violations == []
    assert after.total_cost == pytest.approx(before.total_cost)
    np.testing.assert_allclose(after.covered_people, before.covered_people)
    assert after.phased_value >= before.phased_value - 1e-9


def test_earliest_phases_hand_checked() -> None:
    """Hand-checked: three sites of cost 1 covering 5, 3 and 1 people, two phases of budget 2 each with
    carry-over, all opened in the last phase: the two most valuable move to the first phase."""
    cov = sp.csr_array(np.eye(3, dtype=bool))
    svc = ServiceData(
        name="s",
        weights=np.array([5.0, 3.0, 1.0]),
        coverage=cov,
        distances=None,
        cost=np.ones(3),
        eligible=np.ones(3, dtype=bool),
        area=0.0,
        existing_covered=np.zeros(3, dtype=bool),
        existing_distance=np.full(3, np.inf),
    )
    inst = MultiServiceInstance(
        demand_ids=np.arange(3),
        site_ids=np.array(["x", "y", "z"], dtype=object),
        room=np.full(3, np.inf),
        services=(svc,),
        phases=("2022", "2023"),
        phase_budgets=np.array([2.0, 2.0]),
    )
    plan = np.array([[1, 1, 1]], dtype=np.int8)
    assert greedy_order(inst, plan).tolist() == [0, 1, 2]
    assert earliest_phases(inst, plan).tolist() == [[0, 0, 1]]
