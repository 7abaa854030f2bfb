#!/usr/bin/env bash
# The GPU run in one command, on a bare GPU machine where a CUDA jax is already installed:
# installs what that machine lacks from the wheels carried in benchmarks/gpu/wheels/ (made here by
# benchmarks/gpu/prepare_wheels.sh; no network needed there), then runs benchmarks/gpu/run.py
# with this script's arguments (e.g. --out DIR, --dry-run; `make bench-gpu ARGS=...` calls it).
#
# The installed jax, jaxlib, numpy and scipy are never replaced: the wheels do not include them
# and everything is installed with --no-deps. Where the Python ($PYTHON, default python3) is not
# a virtual environment, the packages go into benchmarks/gpu/.venv, a venv made on top of it
# with --system-site-packages (so it sees the machine's CUDA jax); inside a venv (or if the venv
# cannot be made) they go into that Python's environment.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
WHEELS=benchmarks/gpu/wheels
VENV=benchmarks/gpu/.venv

die() { echo "run.sh: $*" >&2; exit 1; }

"$PY" -c "import jax" 2>/dev/null || die "$PY cannot import jax: install a CUDA jax first."
ls "$WHEELS"/*.whl >/dev/null 2>&1 ||
  die "no wheels in $WHEELS: make them with benchmarks/gpu/prepare_wheels.sh, then carry them."
want=$(cat "$WHEELS/PYTHON_VERSION")
have=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ "$want" = "$have" ] ||
  die "the wheels are for Python $want, $PY is $have (PYTHON_VERSION=$have prepare_wheels.sh)"

if "$PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  echo "run.sh: installing into the active environment $("$PY" -c 'import sys; print(sys.prefix)')"
elif [ -x "$VENV/bin/python" ] || "$PY" -m venv --system-site-packages "$VENV"; then
  PY=$VENV/bin/python
  echo "run.sh: installing into $VENV (on top of $(command -v "${PYTHON:-python3}"))"
else
  echo "run.sh: could not make $VENV; installing into $PY's environment" >&2
fi

pip=("$PY" -m pip install --quiet --disable-pip-version-check --no-index --no-deps)
"${pip[@]}" "$WHEELS"/*.whl
"${pip[@]}" --find-links "$WHEELS" -e .
"$PY" -c "import jax, jaxrl, brax, gymnax, flax, optax; print('run.sh: jax', jax.__version__, \
jax.devices())"
exec "$PY" benchmarks/gpu/run.py "$@"
