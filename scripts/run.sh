#!/usr/bin/env bash
# Set up and run the bot on its embedded defaults (SQLite, console delivery without Telnyx keys).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python app.py "$@"
