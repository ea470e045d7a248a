# backpack: environments, tests, demo and benchmarks.
#   make demo         the whole story on embedded synthetic data (main env)
#   make test         default test suite in the main env (torch 2.2.1 + DGL)
#   make test-modern  the same suite in the modern env (torch 2.13, numpy 2, no DGL)
#   make test-all     every test, slow ones included, in both envs
#   make lint         ruff check and ruff format --check (config in pyproject.toml)
#   make bench        benchmarks for real -> benchmarks/results/latest.{json,md}
PYTHON ?= python3.11
MAIN := .venv
MODERN := .venv-modern
export DGLBACKEND := pytorch
export PYTHONHASHSEED := 0

.PHONY: all envs demo test test-modern test-all lint bench clean lock

all: envs

envs: $(MAIN)/.stamp $(MODERN)/.stamp

$(MAIN)/.stamp: requirements/main.lock pyproject.toml
	$(PYTHON) -m venv $(MAIN)
	$(MAIN)/bin/pip install -q -r requirements/main.lock
	$(MAIN)/bin/pip install -q --no-deps -e .
	touch $@

$(MODERN)/.stamp: requirements/modern.lock pyproject.toml
	$(PYTHON) -m venv $(MODERN)
	$(MODERN)/bin/pip install -q -r requirements/modern.lock
	$(MODERN)/bin/pip install -q --no-deps -e .
	touch $@

demo: $(MAIN)/.stamp
	$(MAIN)/bin/backpack demo

test: $(MAIN)/.stamp
	$(MAIN)/bin/python -m pytest -q

test-modern: $(MODERN)/.stamp
	$(MODERN)/bin/python -m pytest -q

test-all: $(MAIN)/.stamp $(MODERN)/.stamp
	$(MAIN)/bin/python -m pytest -q -m ""
	$(MODERN)/bin/python -m pytest -q -m ""

lint: $(MAIN)/.stamp
	$(MAIN)/bin/ruff check .
	$(MAIN)/bin/ruff format --check .

bench: $(MAIN)/.stamp
	$(MAIN)/bin/python -m pytest benchmarks -q --benchmark-enable \
		--benchmark-json=benchmarks/results/latest.json
	$(MAIN)/bin/python benchmarks/report.py benchmarks/results/latest.json > benchmarks/results/latest.md

# Re-pin the lock files from requirements/*.in (run by a maintainer, not by CI).
lock:
	rm -rf /tmp/bp-lock && $(PYTHON) -m venv /tmp/bp-lock && /tmp/bp-lock/bin/pip install -q -r requirements/main.in
	/tmp/bp-lock/bin/pip freeze --exclude-editable | grep -v '^backpack' > requirements/main.lock
	rm -rf /tmp/bp-lock && $(PYTHON) -m venv /tmp/bp-lock && /tmp/bp-lock/bin/pip install -q -r requirements/modern.in
	/tmp/bp-lock/bin/pip freeze --exclude-editable | grep -v '^backpack' > requirements/modern.lock

clean:
	rm -rf $(MAIN) $(MODERN) backpack-demo .pytest_cache .hypothesis
