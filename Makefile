# Two entry points (see README.md):
#   make run   -- set up a virtual environment and run the main job
#   make test  -- set up a virtual environment and run the test suite, then `make test-lowest`
#   make test-lowest -- install jaxrl with the LOWEST dependency versions pyproject.toml declares
#                       (constraints-lowest.txt) in its own venv and run a smoke set on them
#   make docs        -- build the documentation site (docs/, Sphinx, warnings as errors) into
#                       docs/_build/html; tests/test_docs.py builds it the same way in the suite
#   make bench-gpu   -- on a GPU machine with a CUDA jax: install the rest from the wheels
#                       benchmarks/gpu/prepare_wheels.sh downloaded, run the GPU figures
#                       (ARGS="--out DIR", "--dry-run", ...: see benchmarks/gpu/run.py)
PYTHON ?= python3

# Python byte-compiles each module the first time anything imports it and keeps the result in
# __pycache__ (gitignored); with PYTHONDONTWRITEBYTECODE set (as on our 2-core machines) every
# process compiles every import again: the suite's subprocess tests (CLI, kill, multi-host, ...)
# each paid ~10 s for it. Unset for everything make runs.
unexport PYTHONDONTWRITEBYTECODE

VENV   ?= .venv
PY     := $(VENV)/bin/python
LOWEST ?= .venv-lowest

.PHONY: run test test-lowest setup clean bench-gpu docs

# pip installs uv into the venv and uv installs the rest (the same versions pip resolves from the
# same constraints; checked with pip freeze): a fresh venv takes ~17 s here where pip took ~80 s,
# ~45 of them byte-compiling every file of every package (uv does not: Python compiles, and
# caches (see above), only the modules a run imports).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/jaxrl solve gridworld
	$(VENV)/bin/jaxrl train dqn --env CartPole-v1 --num-seeds 8 --total-steps 100000

# The lowest-versions venv installs (~26 s at one core, with the suites and its import check)
# from the start, beside the test venv's setup (~9 s at one core) and then pytest; its log is
# printed if it fails. Then the smoke set runs on it.
test:
	@rm -f $(LOWEST).rc; \
	( $(MAKE) --no-print-directory $(LOWEST)/.installed > $(LOWEST).log 2>&1; \
	  echo $$? > $(LOWEST).rc ) & \
	$(MAKE) --no-print-directory setup && \
	$(PY) -m pytest -n 2 --dist worksteal --durations=25; status=$$?; wait; \
	if [ "$$(cat $(LOWEST).rc)" != 0 ]; then cat $(LOWEST).log; exit 1; fi; \
	exit $$status
	$(MAKE) --no-print-directory test-lowest

# The lowest declared versions (see pyproject.toml): a separate venv, so the pinned one is untouched.
$(LOWEST)/.installed: pyproject.toml constraints-lowest.txt
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet uv
	$(LOWEST)/bin/uv pip install --quiet --python $(LOWEST)/bin/python -c constraints-lowest.txt \
	  -e ".[test]"
	$(LOWEST)/bin/python .ci/smoke.py --imports-only
	touch $@

# Fails (non-zero) if the lowest set does not install, or if any smoke step or test fails. Not the
# whole suite: it pins iteration counts that depend on XLA's fusions (on jax 0.8.1 the solvers'
# vmap-vs-loop and sparse-vs-dense counts differ by one sweep, values equal to rounding).
test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python .ci/smoke.py
	$(LOWEST)/bin/python -m pytest -p no:cacheprovider -x tests/test_dependencies.py \
	  tests/test_public_api.py

# -W: a warning (a broken cross-reference, an undocumented or missing name) fails the build.
# -E: read every page again, so generated pages (docs/_ext/jaxrl_docs.py) follow the code.
docs: setup
	$(PY) -m sphinx -b html -W --keep-going -E -q docs docs/_build/html
	@echo "docs built: docs/_build/html/index.html"

# No venv to set up here: the GPU machine's Python has its jax (see benchmarks/gpu/run.sh).
bench-gpu:
	benchmarks/gpu/run.sh $(ARGS)

clean:
	rm -rf $(VENV) $(LOWEST) docs/_build docs/api docs/agents/generated
