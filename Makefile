# The two commands a newcomer needs:
#   make chat   set up, build the index over corpus/ and start the assistant
#   make test   set up and run the tests
.PHONY: setup setup-dev chat index test lint eval-germanquad

VENV := .venv
BIN := $(VENV)/bin

# the chat's packages only; setup-dev adds pytest, ruff, mypy, Playwright, LangChain (bench)
setup:
	@bash scripts/setup.sh

setup-dev:
	@bash scripts/setup.sh --dev

index: setup
	$(BIN)/assistant index

chat: index
	$(BIN)/assistant chat

test: setup-dev lint
	$(BIN)/python -m pytest -q
	$(BIN)/python evals/check_thresholds.py

# ruff (lint and format) over everything, mypy over the package; part of `make test`
lint: setup-dev
	$(BIN)/ruff check assistant tests evals benchmarks
	$(BIN)/ruff format --check assistant tests evals benchmarks
	$(BIN)/mypy

eval-germanquad: setup
	$(BIN)/assistant eval ../shared/evaldata/germanquad/qa.jsonl --corpus ../shared/evaldata/germanquad/corpus \
		--index /tmp/gq-index --set retrieval=lexical --fresh
