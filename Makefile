# The two commands of the README: `make app` runs the dashboard, `make test` runs ruff and every test.
# Both create .venv from requirements.txt on first use (and again when it changes).
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-requirements

.PHONY: app test browser

app: $(STAMP)
	$(VENV)/bin/streamlit run serve.py

# Lint and format checks first (settings in pyproject.toml): they take a second, the tests minutes.
test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTHON) -m pytest

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	cp requirements.txt $(STAMP)

# The end-to-end test drives Debian's Chromium; install it when missing (needs root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "make test needs Debian's chromium: run 'sudo apt-get install chromium'" >&2; exit 1; fi; }
