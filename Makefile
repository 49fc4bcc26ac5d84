# Two entry points, each doing its own set-up: `make reproduce` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# a training cell runs ~10 min on 2 idle cores; give slow or busy machines room
CELL_TIMEOUT ?= 3600

.PHONY: setup system-packages data reproduce test check lint
setup: $(VENV)/.installed system-packages data

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# LibreOffice recalculates and renders the workbook; Carlito stands in for Calibri
system-packages:
	@if command -v soffice >/dev/null && command -v pdftoppm >/dev/null && fc-list | grep -qi carlito; then \
		echo "LibreOffice, poppler and Carlito are installed"; \
	else \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends \
			libreoffice-calc-nogui poppler-utils fonts-crosextra-carlito; \
	fi

data: $(VENV)/.installed
	$(BIN)/python -m s4lib data

reproduce: setup
	$(BIN)/python -m s4lib reproduce

test: setup lint
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT)

lint: $(VENV)/.installed
	$(BIN)/ruff check s4lib tests

# for working on the code: lint and every test but the notebooks and those marked slow (a few minutes)
check: setup lint
	$(BIN)/python -m pytest tests -m "not slow"
