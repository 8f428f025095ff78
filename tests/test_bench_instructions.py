"""The instruction-count figure (bench.bench_instructions): reading cachegrind's out-file, the
ratios net of the loop, and the figure's skip when valgrind is not installed."""

from __future__ import annotations

import shutil

import pytest

from bench import bench_instructions
from bench.bench_instructions import Counts, figures, parse_cachegrind, per_request

# The head and tail of a real out-file (valgrind 3.19, --cache-sim=yes); the fn= lines between
# are per-function counts, which the summary already adds up.
OUT_FILE = """\
desc: I1 cache:         65536 B, 64 B, 16-way associative
desc: D1 cache:         49152 B, 64 B, 12-way associative
desc: LL cache:         503316480 B, 64 B, 30-way associative
cmd: .venv/bin/python /tmp/cg.py full 1000
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
fl=???
fn=zlibVersion
0 2 1 1 1 0 0 0 0 0
summary: 3418449871 12965381 58593 1063490362 15582530 225994 499921147 2838632 580182
"""


def test_the_summary_is_read_by_the_events_line() -> None:
    counts = parse_cachegrind(OUT_FILE)
    assert counts == Counts(3_418_449_871, 12_965_381, 15_582_530 + 2_838_632)


def test_columns_in_another_order_are_read_by_name() -> None:
    reordered = "events: D1mw Ir D1mr I1mr\nsummary: 4 1000 6 3\n"
    assert parse_cachegrind(reordered) == Counts(1000, 3, 10)


def test_an_out_file_without_the_cache_simulation_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="cache-sim"):
        parse_cachegrind("events: Ir\nsummary: 3418449871\n")
    with pytest.raises(ValueError, match="not a cachegrind out-file"):
        parse_cachegrind("")
    with pytest.raises(ValueError, match="does not match"):
        parse_cachegrind("events: Ir I1mr\nsummary: 1\n")


def test_each_variant_is_the_difference_of_its_two_runs() -> None:
    counts = {
        ("bare", 1000): Counts(5_000_000, 700, 900),
        ("bare", 3000): Counts(5_300_000, 1_100, 1_500),
        ("loop", 1000): Counts(4_000_000, 100, 100),
        ("loop", 3000): Counts(4_020_000, 140, 180),
    }
    assert per_request(counts, 1000, 3000) == {
        "bare": Counts(300_000, 400, 600),
        "loop": Counts(20_000, 40, 80),
    }


def test_ratios_are_net_of_the_loop_and_conversion_is_counted_apart() -> None:
    requests = 1000
    delta = {
        "loop": Counts(20_000_000, 100_000, 200_000),
        "bare": Counts(120_000_000, 1_100_000, 1_200_000),  # 100 k net
        "full": Counts(170_000_000, 1_600_000, 2_200_000),  # 150 k net
        "converted": Counts(181_000_000, 1_700_000, 2_400_000),  # + 11 k per capture
        "rewritten": Counts(180_000_000, 1_700_000, 2_300_000),  # 160 k net
        "bare-chrome": Counts(125_000_000, 1_200_000, 1_300_000),  # 105 k net
        "full-chrome": Counts(185_000_000, 1_700_000, 2_400_000),  # 165 k net
    }
    rows = [figure.row() for figure in figures(delta, requests)]
    # 1.50x net of the loop (1.42x gross): the loop is neither app nor middleware.
    assert "1.50x (bare 100.0 k, full 150.0 k; the middlewares 50.0 k)" in rows[0]
    assert "less the loop's own 20.0 k" in rows[0]
    assert "D1 2.00x (bare 1000, full 2000); I1 1.50x (bare 1000, full 1500)" in rows[1]
    assert "1.60x (160.0 k)" in rows[2]
    # a real browser's headers: the middlewares pass over each one (60 k instead of 50 k)
    assert "1.57x (bare 105.0 k, full 165.0 k; the middlewares 60.0 k)" in rows[3]
    assert "11.0 k (0.11x the bare app's request)" in rows[4]
    assert all(row.endswith("| stated | - |") for row in rows)  # explains, targets nothing


def test_without_valgrind_the_figure_says_skipped_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (figure,) = bench_instructions.run()
    assert figure.result == "skipped: valgrind not installed (apt-get install valgrind)"
    assert figure.met is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_a_cachegrind_run_counts_the_middlewares_work() -> None:
    full, misses, rewritten, chrome, conversion = (
        figure.result for figure in bench_instructions.run(100)
    )
    ratio = float(full.split("x", 1)[0])
    assert 1.0 < ratio < 3.0, full
    assert misses.startswith("D1 "), misses
    assert float(rewritten.split("x", 1)[0]) >= ratio, rewritten  # no header memo to hit
    # Three times the headers: the middlewares' share grows (each header is passed over).
    assert float(chrome.split("x", 1)[0]) > ratio, chrome
    assert float(conversion.split(" k", 1)[0]) > 0, conversion
