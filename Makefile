# Each target builds its own virtualenv, so it works on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= staging

.PHONY: demo test bench lint typecheck golden clean

$(BIN)/dmsctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## demo: the example configs validated, compiled, planned and applied on the sandbox (ENV=staging)
demo: $(BIN)/dmsctl
	$(BIN)/dmsctl sandbox demo --env $(ENV)

## test: the whole test suite (what CI runs), one pytest worker per core (pytest-xdist)
test: $(BIN)/dmsctl
	$(BIN)/python -m pytest -n auto; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

## golden: regenerate golden files after an intended output change, then review the diff
golden: $(BIN)/dmsctl
	$(BIN)/python -m pytest --update-golden

## lint: ruff on every Python folder
lint: $(BIN)/dmsctl
	$(BIN)/ruff check compiler deployer sandbox src tests benchmarks

## typecheck: mypy (strict for the deployer core) and the import contracts
typecheck: $(BIN)/dmsctl
	tools/typecheck
	tools/lint-imports

bench: $(BIN)/dmsctl
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache
