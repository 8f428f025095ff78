"""`make demo`'s simulated visitors each keep their own cookies.

Before: every request went through one httpx.Client, whose cookie jar kept the first consent
cookie the site set and sent it with every later request, merged into each visitor's own: from
the first few days on, the spool had no `undecided` and hardly any refused pageviews, though
30 % of the simulated visitors never decide and 25 % reject. The demo's consent, visitors and
devices reports showed a site that does not exist.

The demo's own server (uvicorn on 127.0.0.1, the example app, its demo clock) and its own
simulation; the spool read as the rollup reads it.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from analytics.spool import list_segments, read_segment
from examples import demo

WEEKS, VISITORS, SEED = 3, 40, 7
TOLERANCE = 0.1  # share of pageviews; each decider's first pageview is still undecided


def _consent_of_pageviews(spool: Path) -> dict[int, Counter[str]]:
    """Human pageviews by consent state, for each of the simulation's weeks (0, 1, ...)."""
    segments = list(list_segments(spool))
    first = min(segment.day for segment in segments)
    weeks: dict[int, Counter[str]] = {}
    for segment in segments:
        week = weeks.setdefault((segment.day - first).days // 7, Counter())
        for event in read_segment(segment.path).to_pylist():
            if not event["is_bot"]:
                # `all` or `custom` by the categories chosen (and GPC): both accepted some.
                week["accepted" if event["consent"] in ("all", "custom") else event["consent"]] += 1
    return weeks


def test_the_demos_spool_has_every_consent_state_in_the_simulated_mix(tmp_path: Path) -> None:
    port = demo.free_port()
    server = demo.start_server(tmp_path, port, demo_clock=True)
    try:
        demo.simulate(f"http://127.0.0.1:{port}", weeks=WEEKS, visitors=VISITORS, seed=SEED)
    finally:
        demo.stop_server(server)

    weeks = _consent_of_pageviews(tmp_path / "spool")

    assert sorted(weeks) == list(range(WEEKS))
    for week, states in weeks.items():
        assert {"undecided", "none", "accepted"} <= set(states), (week, states)
    total = sum(weeks.values(), Counter())
    pageviews = total.total()
    # The simulation's own visitors (seeded: the ones `simulate` makes) and their choices.
    choices = Counter(
        visitor.choice for visitor in demo.make_visitors(random.Random(SEED), VISITORS)
    )
    intended = {
        "undecided": choices["undecided"] / VISITORS,
        "none": choices["reject"] / VISITORS,
        "accepted": (choices["accept"] + choices["custom"]) / VISITORS,
    }
    shares = {state: total[state] / pageviews for state in intended}
    for state, share in intended.items():
        assert abs(shares[state] - share) <= TOLERANCE, (shares, intended)
