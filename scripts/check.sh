#!/usr/bin/env bash
# Static checks: ruff over the tree, mypy (strict) over the package.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
cd "$ROOT"
say "ruff"
.venv/bin/ruff check .
say "mypy"
.venv/bin/mypy
