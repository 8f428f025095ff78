#!/usr/bin/env bash
# A wrapper for cron or a systemd timer: roll up, then export the daily referrers as Parquet for
# the analysts' notebooks. Run from the project folder: examples/cron/rollup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VAR=${COOKIEWALL_VAR:-var}
PY=${PYTHON:-.venv/bin/python}
# Ingested segments move to $VAR/archive, so the spool holds only what is not yet ingested.
rollup=0
"$PY" -m analytics rollup --spool "$VAR/spool" --db "$VAR/analytics.duckdb" --archive "$VAR/archive" \
    || rollup=$?
case $rollup in
    # Committed, with a warning: 3 (segments not archived), 4 (segments of a newer event
    # schema left), 5 (not compacted). The counts are in, so export them: skipping the export
    # left the Parquet stale for as long as the condition lasted (exit 4: until an upgrade).
    0 | 3 | 4 | 5) ;;
    # Nothing committed (1 busy, 2 error) or stopped (130, 143): the last export still stands.
    *) exit "$rollup" ;;
esac
# A failed export exits with its own code (set -e); else the rollup's, so cron still mails.
"$PY" -m analytics export --db "$VAR/analytics.duckdb" --table daily_referrers \
    --format parquet --output "$VAR/daily_referrers.parquet"
exit "$rollup"
