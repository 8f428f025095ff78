#!/usr/bin/env bash
# Run the fast tests against the lowest dependency versions pyproject.toml allows.
#
# A user who already has duckdb 1.1 or starlette 0.40 gets cookiewall without an upgrade, so
# the lower bounds must be true. This builds a venv (FLOORS_VENV, default
# ${TMPDIR:-/tmp}/cookiewall-floors) with constraints/floors.txt as constraints, the project
# editable in it, and the test tools at their newest versions that fit the floors; checks
# that every pinned floor is what got installed; then runs
# `pytest -q -m "not browser and not spark and not slow"` there. Arguments go to pytest
# (e.g. tools/test-floors.sh tests/test_dashboard_api.py). Not part of CI: `make test-floors`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
floors=$root/constraints/floors.txt
venv=${FLOORS_VENV:-${TMPDIR:-/tmp}/cookiewall-floors}
python=${PYTHON:-python3.11}

# What the tests use beyond the runtime dependencies: pyproject's `dev` extra without Spark,
# the browser and ruff, whose tests do not run here (mypy: the README's typed snippets).
# django and a2wsgi: without them the Django and Flask integration tests skip, and the
# README's Django and WSGI snippets fail.
# pytz: the tests read events.ts into Python, which duckdb before 2.0.1 does only through
# pytz (cookiewall itself must not: tests/test_timestamps_reach_python_without_pytz.py).
tools=(
    pytest hypothesis httpx uvicorn fastapi python-multipart "moto[server]" boto3 flask
    httptools uvloop gunicorn uvicorn-worker hypercorn granian "setuptools>=77" mypy pytz
    django a2wsgi
)

if [[ ! -x $venv/bin/python ]]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m uv --version >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet uv
fi
"$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python" \
    --constraint "$floors" --editable "$root[analytics,s3]" "${tools[@]}"

# A floor silently lifted (a tool that needs more, a venv left from before) would test
# nothing: every `name==version` line must be what is installed.
"$venv/bin/python" - "$floors" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

wrong = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, floor = line.partition("==")
    try:
        installed = version(name)
    except PackageNotFoundError:
        installed = "not installed"
    if installed != floor:
        wrong.append(f"{name}: {installed}, not the floor {floor}")
if wrong:
    sys.exit("test-floors: " + "; ".join(wrong))
EOF

cd "$root"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    -m "not browser and not spark and not slow" "$@"
