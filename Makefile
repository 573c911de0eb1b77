# The two quick-start commands: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast

install: $(VENV)/.installed

# torch goes first, pinned: a bare torch requirement could pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,test]'
	touch $@

demo: install
	$(BIN)/honed demo

test: install
	$(BIN)/python -m pytest

# Day-to-day lane: no training loops, real tunes or fault injection; fewer fuzz cases.
test-fast: install
	$(BIN)/python -m pytest -m "not slow" --hypothesis-profile=fast
