# Shared helpers for the developer scripts (sourced, not executed).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf '\n==> %s\n' "$*"; }

# ensure_venv DIR PYTHON [EXTRA_PIP_REQUIREMENT...]
# Creates DIR with PYTHON if missing and installs the project with its dev extra (editable).
# Re-installs only when pyproject.toml, the interpreter or the extra requirements changed,
# so a second run costs a hash and nothing else.
ensure_venv() {
    local venv="$1" python="$2"
    shift 2
    local stamp="$venv/.loom-install-stamp" want
    want="$( { cat "$ROOT/pyproject.toml"; "$python" -c 'import sys; print(sys.version)'; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating $venv with $("$python" --version 2>&1)"
        "$python" -m venv "$venv"
    fi
    say "installing loom-django[dev] $* into $venv"
    "$venv/bin/python" -m pip install -q -e "$ROOT[dev]" "$@"
    echo "$want" >"$stamp"
}

# The machine's default Python 3.11+ for the main lane.
main_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.11 python3.12 python3.13; do
        [[ -n "$candidate" ]] || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: loom_django needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

# A working Python 3.12 for the Django 6 lane, or nothing.
python312() {
    local candidate
    for candidate in "${PYTHON312:-}" python3.12 /root/.pyenv/versions/3.12.1/bin/python3 /usr/bin/python3.12; do
        [[ -n "$candidate" ]] || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_main_venv() {
    ensure_venv "$ROOT/.venv" "$(main_python)"
}

# run_pytest LABEL ARGS... : runs pytest; "no tests collected" (exit 5) is a failure.
run_pytest() {
    local label="$1" py="$2" rc=0
    shift 2
    say "pytest [$label] $*"
    "$py" -m pytest "$@" || rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "error: [$label] pytest collected no tests" >&2
    fi
    return $rc
}
