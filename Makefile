# Two commands set everything up on a fresh machine:
#   make lab   - the emulator plus JupyterLab
#   make test  - every test, notebooks included
# Both install exactly the versions in requirements.lock (see CONTRIBUTING.md, "Dependencies"):
#   make lock      - regenerate requirements.lock from pyproject.toml's ranges
#   make moto-next - try the newest moto release against the emulator's patches
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The scratch environment of `make moto-next`: the lock, with moto upgraded to its newest release.
VENV_NEXT := .venv-moto-next
# The lock is compiled by this exact uv release, so the same ranges always give the same file.
UV_VERSION := 0.13.10
# Extra uv flags for `make lock`, e.g. LOCK_ARGS=--upgrade (every package to its newest release
# within the ranges) or LOCK_ARGS='--upgrade-package boto3'. Without them the current pins are kept
# wherever pyproject.toml still allows them.
LOCK_ARGS ?=

# The emulator's behaviour tests: run once more with the speed patches off (`make test`), and
# against the newest moto (`make moto-next`).
BEHAVIOUR_TESTS := tests/test_patches.py tests/test_sfn_extensions.py tests/test_lab_end_to_end.py \
	tests/test_flow_on_emulator.py tests/test_lambda_in_emulator.py tests/test_wait_speedup.py \
	tests/test_mocking.py

.PHONY: lab test notebooks emulator stop dot clean benchmark lock moto-next

# Installs exactly the lock (upgrading or downgrading what an older .venv has), then the project
# itself without dependencies, since the lock already holds them all.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Regenerates requirements.lock from pyproject.toml (dependencies and the test extra), for every
# platform (Linux, macOS, Windows) and Python 3.11 or newer. Needs PyPI, not an installed .venv.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile --quiet pyproject.toml --extra test --universal --python-version 3.11 \
	  --custom-compile-command 'make lock' --output-file requirements.lock $(LOCK_ARGS)
	@echo "requirements.lock: $$(grep -c '^[A-Za-z]' requirements.lock) pins; review 'git diff requirements.lock', then run 'make test'"

# Before moving the moto pin: the lock with moto upgraded to its newest release, then the list of
# emulator patches whose moto source changed, and the behaviour tests run against that moto.
# Both checks run even if the first fails; the target fails if either did.
moto-next:
	@test -x $(VENV_NEXT)/bin/python || $(PYTHON) -m venv $(VENV_NEXT)
	$(VENV_NEXT)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_NEXT)/bin/python -m pip install --quiet -r requirements.lock
	$(VENV_NEXT)/bin/python -m pip install --quiet --no-deps -e .
	$(VENV_NEXT)/bin/python -m pip install --quiet --upgrade 'moto[server]'
	@echo "moto-next: locked moto $$(sed -n 's/^moto==\([^ ;]*\).*/\1/p' requirements.lock)," \
	  "testing moto $$($(VENV_NEXT)/bin/python -c 'import moto; print(moto.__version__)')"
	@status=0; \
	$(VENV_NEXT)/bin/python -m labhelpers.emulator.registry --check || status=1; \
	LAB_MOTO_CHECK=warn $(VENV_NEXT)/bin/python -m pytest $(BEHAVIOUR_TESTS) tests/test_perf_patches.py || status=1; \
	exit $$status

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
	LAB_EMULATOR_FAST=0 $(PY) -m pytest $(BEHAVIOUR_TESTS)
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
	rm -rf $(VENV) $(VENV_NEXT) .pytest_cache
