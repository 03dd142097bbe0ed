# Three commands for a new user: `make demo`, `make test` and `make serve` (README). Everything
# else is plumbing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo serve test install install-dev lint format bench screenshots clean

# Settings fail closed (production) without DJANGO_ENV: what a person runs from here on a
# laptop (the demo, the local server, the tests, benchmarks) opts into local.
demo serve test screenshots bench: export DJANGO_ENV := local

demo: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py codeframe_demo sample_data/survey_responses.csv \
		--address http://127.0.0.1:$(SERVE_PORT)

# The web app and a task worker on http://127.0.0.1:$(SERVE_PORT), in the foreground; Ctrl-C
# stops both.
SERVE_PORT ?= 8000
export SERVE_PORT

serve: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v 0
	@echo "Serving http://127.0.0.1:$(SERVE_PORT)/ (web app + task worker); Ctrl-C stops both."
	exec $(BIN)/honcho --no-colour -f Procfile start

# The suite runs twice: on SQLite (the default) and on PostgreSQL. pytest-django creates (and
# drops) test_<name>; the PID suffix keeps concurrent runs on one server apart.
PG_URL ?= postgres://postgres@127.0.0.1:5432/codeframe

# apt-get needs root: through sudo for a user who is not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@command -v redis-server >/dev/null || { echo "installing redis-server (tests start their own)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }
	@command -v redis-sentinel >/dev/null || { echo "installing redis-sentinel (Sentinel tests start their own)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-sentinel >/dev/null; }
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium (browser tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@command -v pspp >/dev/null || { echo "installing Debian's pspp (the SPSS files are opened in it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq pspp >/dev/null; }
	$(BIN)/pytest $(PYTEST_ARGS)
	@pg_isready -q -d "$(PG_URL)" || { echo "PostgreSQL is not reachable at $(PG_URL): the suite \
		must pass on it too (start it, or set PG_URL)"; exit 1; }
	DATABASE_URL="$(PG_URL)_$$$$" $(BIN)/pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

# What the tests, lint and benchmarks need on top (pytest, ruff, Playwright...): `make test`
# installs it too; this, to run one test file first.
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/embedding_cache.py

# The README's screenshots (docs/*.png), taken by the browser test.
screenshots: $(VENV)/.installed-dev
	DOCS_SCREENSHOTS=1 $(BIN)/pytest tests/proof/test_first_run.py -q

clean:
	rm -rf $(VENV) var
