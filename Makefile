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

# real containers (gvisor: Docker for the node image, then the box image)
# unless PROCTOR_CONTAINER_SANDBOXES=0; kind only where real nodes are wanted
run:
	@scripts/bootstrap $$([ "$${PROCTOR_KIND_SANDBOXES:-0}" = 0 ] || echo --with-kind) \
	  $$([ "$${PROCTOR_CONTAINER_SANDBOXES:-1}" = 0 ] || echo --with-gvisor)
	@scripts/run

test:
	@scripts/bootstrap --with-kind --with-gvisor
	@scripts/test

lint: bootstrap
	@$(PROCTOR) validate --lint-only tasks/

bench: bootstrap
	@$(VENV)/bin/python bench/sandbox_start.py

kind:
	@scripts/bootstrap --with-kind

clean-sandboxes: bootstrap
	@$(PROCTOR) sandbox down --all
