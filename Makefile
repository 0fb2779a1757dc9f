# Two entry points a newcomer needs: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo run test lint typecheck bench bench-quick soak clean lock licences package-check

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/cashwatch demo

run: install
	$(BIN)/cashwatch run

lint: install
	$(BIN)/ruff check cashwatch tests app.py pages bench
	$(BIN)/ruff format --check cashwatch tests app.py pages bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint
	$(BIN)/python -m pytest -q -rs --durations=15

# the benchmark of docs/benchmarks.md: three interleaved repetitions, every search to its
# edge (up to 40 min; windows disturbed by other work on the machine are measured again)
bench: install
	$(BIN)/python -m bench.run --full

# a smoke check of the same (~6 min): one repetition, capacities may be lower bounds
bench-quick: install
	$(BIN)/python -m bench.run --quick

soak: install
	$(BIN)/python -m tests.soak --minutes 30

# after changing a dependency: pin what is installed now, list the licences again
lock: install
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#'; } > constraints.new
	mv constraints.new constraints.txt
	$(MAKE) licences

licences: install
	$(BIN)/python -m tests.licences --write

# `pip install .` alone in a new virtualenv, then a demo camera to an event (~5 min, 7 GB)
package-check: install
	$(BIN)/python -m tests.package_check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
