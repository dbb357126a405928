#!/usr/bin/env bash
# Creates .venv and installs the project: `scripts/setup.sh` what the chat needs (make chat),
# `scripts/setup.sh --dev` plus the test and benchmark tools (make test).
#
# torch comes first, as the CPU build where PyTorch's CPU index answers within a few seconds
# (PyPI's default torch for Linux is the CUDA build, with several GB of nvidia-* packages the
# assistant never uses). Where that index cannot be reached (no internet, a local mirror, a proxy
# that blocks it) the default index is used. Set-up never fails over which build arrived: it
# says what was installed. TORCH_INDEX=<url> chooses the index; TORCH_INDEX=default skips the probe.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv"
EXTRAS=""
if [ "${1:-}" = "--dev" ]; then
    EXTRAS="[dev]"
fi
CPU_INDEX="https://download.pytorch.org/whl/cpu"
PROBE_SECONDS="${TORCH_INDEX_PROBE_SECONDS:-4}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

# Whether PyTorch's CPU index answers (the torch page of its simple index) within PROBE_SECONDS.
cpu_index_answers() {
    "$VENV/bin/python" - "$CPU_INDEX/torch/" "$PROBE_SECONDS" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

installed=""
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    installed=1
    index="${TORCH_INDEX:-}"
    if [ -z "$index" ]; then
        if cpu_index_answers; then
            index="$CPU_INDEX"
        else
            echo "Hinweis: PyTorchs CPU-Index ($CPU_INDEX) antwortet nicht binnen ${PROBE_SECONDS} s; torch kommt vom Standard-Index."
        fi
    fi
    if [ -n "$index" ] && [ "$index" != "default" ]; then
        echo "torch 2.13.0 (CPU) von $index …"
        if ! $PIP install "torch==2.13.0" --index-url "$index"; then
            echo "Hinweis: Installation von $index fehlgeschlagen; torch kommt vom Standard-Index."
            $PIP install "torch==2.13.0"
        fi
    else
        $PIP install "torch==2.13.0"
    fi
fi

# One stamp per pyproject.toml and extras; the dev one covers the chat's needs too.
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp="$VENV/.installed${EXTRAS:+-dev}-$hash"
if [ ! -f "$stamp" ] && [ ! -f "$VENV/.installed-dev-$hash" ]; then
    installed=1
    $PIP install -e ".$EXTRAS"
    touch "$stamp"
fi

# What arrived: the CPU build, or a CUDA build (works as well, only larger).
[ -n "$installed" ] && "$VENV/bin/python" - <<'EOF'
import torch

cuda = torch.version.cuda
if cuda:
    print(f"torch {torch.__version__} mit CUDA {cuda} installiert (läuft auch ohne Grafikkarte; "
          "die CPU-Version wäre kleiner: TORCH_INDEX=https://download.pytorch.org/whl/cpu scripts/setup.sh "
          "in einer neuen .venv).")
else:
    print(f"torch {torch.__version__} (CPU) installiert.")
EOF
exit 0
