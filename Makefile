# make run   - bootstrap what is missing, then serve the portal
# make test  - bootstrap what is missing, then run every test
VENV    ?= .venv
PROCTOR := $(VENV)/bin/proctor
PYTEST  := $(VENV)/bin/pytest

.PHONY: run test bootstrap toolchain lint clean-sandboxes bench

bootstrap:
	@scripts/bootstrap

toolchain: bootstrap
	@$(PROCTOR) toolchain build

run: bootstrap
	@scripts/run

test: bootstrap
	@scripts/test

lint: bootstrap
	@$(PROCTOR) validate --lint-only tasks/

bench: bootstrap
	@$(VENV)/bin/python bench/sandbox_start.py

clean-sandboxes: bootstrap
	@$(PROCTOR) sandbox down --all
