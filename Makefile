# Two entry points (see README.md):
#   make run   -- set up a virtual environment and run the main job
#   make test  -- set up a virtual environment and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test setup clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/jaxrl solve gridworld
	$(VENV)/bin/jaxrl train dqn --env CartPole-v1 --num-seeds 8 --total-steps 100000

test: setup
	$(PY) -m pytest -n 2 --dist worksteal --durations=25

clean:
	rm -rf $(VENV)
