# Shared by quickstart.sh and test.sh: make .venv and install the project into it.
ensure_venv() {
  local target="$1"
  local python="${AKDL_PYTHON:-}"
  if [ -z "$python" ]; then
    python="$(command -v python3.11 || command -v python3)"
  fi
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  # An old pip cannot build Beam's sdist-only dependencies (crcmod, dill, ...).
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$target"
}
