# Two commands set everything up on a fresh machine:
#   make lab   - the emulator plus JupyterLab
#   make test  - every test, notebooks included
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab test notebooks emulator stop dot clean benchmark

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# graphviz's `dot` draws the flows; the Python package alone is not enough.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's graphviz (for the dot binary)..."; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "The graphviz 'dot' program is missing. Install it: 'sudo apt-get install graphviz'" \
	         "(Debian/Ubuntu), 'brew install graphviz' (macOS) or 'conda install graphviz'."; exit 1; \
	  fi; }

# JupyterLab refuses to run as root unless told it may (containers, some lab machines).
JUPYTER_ARGS ?= $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(STAMP) dot
	$(PY) -m labhelpers emulator start
	$(VENV)/bin/jupyter lab $(JUPYTER_ARGS) notebooks/

# The notebooks run in a pytest session of their own, so they start on an empty local account.
test: $(STAMP) dot
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

# Re-run every notebook on a fresh emulator and save it with its outputs (after editing one).
notebooks: $(STAMP) dot
	$(PY) -c "import logging; logging.basicConfig(level=logging.INFO); from labhelpers.notebook import refresh; refresh()"

emulator: $(STAMP)
	$(PY) -m labhelpers emulator start

stop: $(STAMP)
	$(PY) -m labhelpers emulator stop

benchmark: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
