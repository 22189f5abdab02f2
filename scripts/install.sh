#!/usr/bin/env bash
# Create .venv and install loom-django with its dev extra (idempotent, fast when up to date).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
echo "ready: $ROOT/.venv"
