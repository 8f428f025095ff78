#!/usr/bin/env bash
# A wrapper for cron or a systemd timer: roll up, then export the daily referrers as Parquet for
# the analysts' notebooks. Run from the project folder: examples/cron/rollup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VAR=${COOKIEWALL_VAR:-var}
PY=${PYTHON:-.venv/bin/python}
# Ingested segments move to $VAR/archive, so the spool holds only what is not yet ingested.
"$PY" -m analytics rollup --spool "$VAR/spool" --db "$VAR/analytics.duckdb" --archive "$VAR/archive"
"$PY" -m analytics export --db "$VAR/analytics.duckdb" --table daily_referrers \
    --format parquet --output "$VAR/daily_referrers.parquet"
