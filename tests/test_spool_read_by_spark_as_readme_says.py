"""README's one line for reading the spool with Spark works on a spool as the recorder leaves
it: with its `salts/` folder (the default `salt_dir`) beside the `day=...` folders. The line
it replaced, `spark.read.parquet("var/spool")`, fails there: Spark's partition discovery
takes `salts/` for a second, conflicting directory layout (CONFLICTING_DIRECTORY_STRUCTURES;
SPEC audit h278 D1)."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics.visitors import SaltStore
from tests.warehouse_support import events_for_days, write_events

README = Path(__file__).resolve().parent.parent / "README.md"
READ_SPOOL = 'spark.read.option("basePath", "var/spool").parquet("var/spool/day=*")'


def test_readme_names_the_line_tested_here() -> None:
    lines = [line for line in README.read_text().splitlines() if "spark.read." in line]
    assert any(READ_SPOOL in line for line in lines), lines
    # The bare form, which fails on a spool with salts, is named only as the one that fails.
    assert not re.search(r'Spark: `spark\.read\.parquet\("var/spool"\)`', README.read_text())


def test_spark_reads_a_spool_with_its_salts_folder(spark: Any, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=1), today]
    events = events_for_days(random.Random(5), days, per_day=30)
    var = tmp_path / "var"
    write_events(var / "spool", events)
    # A salt as the recorder makes it, in the recorder's default place.
    assert SaltStore(var / "spool" / "salts").salt(today) is not None
    assert (var / "spool" / "salts").is_dir()

    statement = READ_SPOOL.replace("var/spool", str(var / "spool"))
    # The README's line, with this test's spool; nothing else is evaluated.
    frame = eval(statement, {"spark": spark})  # noqa: S307
    counted = {row["day"]: row["count"] for row in frame.groupBy("day").count().collect()}

    expected = Counter(event.ts.astimezone(UTC).date() for event in events)
    assert {str(day): n for day, n in counted.items()} == {str(d): n for d, n in expected.items()}
