# `make demo` and `make test` work on a fresh clone: each creates .venv if
# missing and installs the project into it (again when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/keyholder demo

# In CI every test is listed by name, so the log shows each [sqlite] and [postgresql] case.
test: $(STAMP) lint
	$(BIN)/pytest -n auto $(if $(CI),-v)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache
