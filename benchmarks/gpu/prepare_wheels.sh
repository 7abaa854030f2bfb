#!/usr/bin/env bash
# Downloads into benchmarks/gpu/wheels/ the wheels that a bare GPU machine with a CUDA jax lacks to
# run jaxrl's GPU benchmarks; benchmarks/gpu/run.sh installs them there with pip --no-index, so
# that machine needs no network. The folder is gitignored: carry it to the machine explicitly.
#
# Run it here, where there is network and jaxrl's venv (.venv): the list is every distribution
# jaxrl[brax,bench] needs (walked through the venv's installed metadata), at the version
# constraints.txt pins, less what a CUDA jax brings with it (jax, jaxlib, numpy, scipy, ml_dtypes,
# opt_einsum: the GPU machine's own are kept, never replaced) and less what the GPU figures never
# import (EXCLUDE below; ALL=1 keeps everything), plus setuptools to build jaxrl's editable install
# offline. Binary wheels only, for CPython $PYTHON_VERSION (default 3.11) on manylinux x86_64;
# pymdptoolbox (benchmarks/sparse_gridworld.py imports it) publishes only a source archive, so its
# pure-Python wheel is built here. The list is written to wheels/REQUIREMENTS.txt.
#
# Weight (2026-12-06): 60.6 MiB in 47 wheels (pandas, matplotlib, mujoco-core, mujoco-mjx, pillow
# and fonttools are 52 MB of it), under the device tool's 64 MiB for carried paths; with ALL=1,
# 102 MiB in 68 wheels (tensorstore alone is 22 MB), too much to carry at once.
#
#   benchmarks/gpu/prepare_wheels.sh       # PYTHON=.venv/bin/python PYTHON_VERSION=3.11 ALL=0
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
PYVER=${PYTHON_VERSION:-3.11}
DEST=benchmarks/gpu/wheels
ABI="cp${PYVER/./}"

mkdir -p "$DEST"
rm -f "$DEST"/*.whl "$DEST"/PYTHON_VERSION "$DEST"/REQUIREMENTS.txt

# name==version for every distribution jaxrl[brax,bench] needs, less the CUDA jax's own.
"$PY" - "$DEST/REQUIREMENTS.txt" <<'EOF'
import os
import re
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROVIDED = {"jax", "jaxlib", "numpy", "scipy", "ml-dtypes", "opt-einsum"}   # come with a CUDA jax
# Declared but never imported by the GPU figures (checked: the modules a dry run loads), left out
# to stay under the device tool's 64 MiB unless ALL=1: the checkpoint stack (orbax-checkpoint and
# tensorstore, 27 MiB with their own dependencies; jaxrl imports it only to write checkpoints,
# which `jaxrl train` does and run.py does not), Brax's visualiser server and training logger,
# and MuJoCo's viewer (15 MiB).
EXCLUDE = set() if os.environ.get("ALL") == "1" else {
    "orbax-checkpoint", "tensorstore", "aiofiles", "humanize", "prometheus-client", "protobuf",
    "psutil", "simplejson", "uvloop",
    "flask", "flask-cors", "werkzeug", "jinja2", "itsdangerous", "blinker", "click", "markupsafe",
    "tensorboardx", "mujoco-studio", "mujoco-studio-wasm", "pyopengl"}
pins = {}
for line in open("constraints.txt"):
  m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
  if m:
    pins[canonicalize_name(m.group(1))] = m.group(2)

seen, order = set(), []
todo = [Requirement("jaxrl[brax,bench]")]
while todo:
  req = todo.pop()
  name, extras = canonicalize_name(req.name), frozenset(req.extras)
  if (name, extras) in seen:
    continue
  seen.add((name, extras))
  if name in PROVIDED:
    continue
  if name != "jaxrl" and name not in order:
    order.append(name)
  for text in metadata.distribution(name).requires or []:
    sub = Requirement(text)
    if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras | {""}):
      todo.append(sub)

kept = sorted(set(order) - EXCLUDE)
with open(sys.argv[1], "w") as out:
  for name in kept:
    version = pins.get(name) or metadata.version(name)
    out.write(f"{name}=={version}\n")
print(f"{len(kept)} distributions to download, {len(set(order) & EXCLUDE)} left out",
      file=sys.stderr)
EOF

platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux2010_x86_64 manylinux1_x86_64 linux_x86_64; do
  platforms+=(--platform "$p")
done
binary=(--only-binary=:all: --no-deps --python-version "$PYVER" --implementation cp
        --abi "$ABI" --abi abi3 --abi none "${platforms[@]}" -d "$DEST")

grep -v '^pymdptoolbox==' "$DEST/REQUIREMENTS.txt" > "$DEST/.binary.txt"
echo "setuptools>=68" >> "$DEST/.binary.txt"
"$PY" -m pip download --quiet "${binary[@]}" -r "$DEST/.binary.txt"
rm -f "$DEST/.binary.txt"
# pymdptoolbox publishes only a source archive: build its pure-Python (py3-none-any) wheel here.
pym=$(grep '^pymdptoolbox==' "$DEST/REQUIREMENTS.txt" || true)
if [ -n "$pym" ]; then
  "$PY" -m pip wheel --quiet --no-deps -w "$DEST" "$pym"
fi
echo "$PYVER" > "$DEST/PYTHON_VERSION"
bytes=$(cat "$DEST"/*.whl | wc -c)
mib="$((bytes / 1048576)).$((bytes % 1048576 * 10 / 1048576))"
echo "$(ls "$DEST"/*.whl | wc -l) wheels, $mib MiB in $DEST"
