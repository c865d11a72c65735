#!/usr/bin/env bash
# Set up and run the whole test suite. "No tests collected" (pytest exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev || exit 1
# Two workers, one a core: most tests wait on a database, a server or a subprocess, so the suite
# takes about half as long. Each test makes its own databases, files and ports, so none collide.
.venv/bin/python -m pytest -n 2 "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: no tests were collected" >&2
  exit 1
fi
exit "$status"
