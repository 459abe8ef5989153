# make run   - bootstrap what is missing, then serve the portal
# make test  - bootstrap what is missing, then run every test
VENV    ?= .venv
PROCTOR := $(VENV)/bin/proctor
PYTEST  := $(VENV)/bin/pytest

.PHONY: run test bootstrap toolchain lint clean-sandboxes bench kind

bootstrap:
	@scripts/bootstrap

toolchain: bootstrap
	@$(PROCTOR) toolchain build

# kind (Docker, the node image) only where real nodes are wanted
run:
	@scripts/bootstrap $$([ "$${PROCTOR_KIND_SANDBOXES:-0}" = 0 ] || echo --with-kind)
	@scripts/run

test:
	@scripts/bootstrap --with-kind
	@scripts/test

lint: bootstrap
	@$(PROCTOR) validate --lint-only tasks/

bench: bootstrap
	@$(VENV)/bin/python bench/sandbox_start.py

kind:
	@scripts/bootstrap --with-kind

clean-sandboxes: bootstrap
	@$(PROCTOR) sandbox down --all
