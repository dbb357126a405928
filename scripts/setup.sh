#!/usr/bin/env bash
# Creates .venv and installs the project with the CPU build of torch (no CUDA packages).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
# torch first, pinned to the CPU build; the project's "torch>=2.4" is then already satisfied
# and pip pulls no nvidia-* packages. On these machines the CPU wheel is what pip finds; elsewhere
# set TORCH_INDEX=https://download.pytorch.org/whl/cpu to get the CPU build from PyTorch's index.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    $PIP install "torch==2.13.0" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    $PIP install -e ".[dev]"
    touch "$stamp"
fi
if "$VENV/bin/python" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "Fehler: CUDA-Pakete (nvidia-*) wurden installiert; erwartet ist die CPU-Version von torch." >&2
    exit 1
fi
