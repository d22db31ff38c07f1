# Two commands: `make run` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEPS   := pyproject.toml constraints.txt

.PHONY: run test quickstart lint bench install clean lock browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(DEPS)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The training stack (JAX, Tunix; about 1.2 GB): `make test` always installs it, `make run` never.
TRAIN_STAMP := $(VENV)/.installed-train
$(TRAIN_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,train]'
	touch $(TRAIN_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tunix-rt db upgrade
	$(BIN)/tunix-rt demo
	$(BIN)/tunix-rt serve

# Training working end to end: traces -> dataset -> training -> evaluation (about 8 minutes).
quickstart: $(TRAIN_STAMP)
	$(BIN)/tunix-rt quickstart arithmetic

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The browser tests drive the system Chromium (Debian package `chromium`); as root, `make test`
# installs it when it is missing, otherwise those tests skip and say why.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make test: installing Chromium for the browser tests (apt-get install chromium)"; \
	    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	  else \
	    echo "make test: Chromium is not installed and this is not root: the browser tests will skip"; \
	  fi; \
	fi

test: $(TRAIN_STAMP) lint browser
	@$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure"; exit 1; fi; \
	exit $$rc

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage

lock: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,train]'
	{ echo "# Exact versions every install uses (pip install -c constraints.txt). Regenerate: make lock"; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt
