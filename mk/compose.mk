# docker compose: a multi-node cluster of containers on this machine (issue 5); see
# docs/containers.md, "docker compose". Included from the Makefile.

COMPOSE_FILE := compose/docker-compose.yml
COMPOSE_PROJECT ?= cloudburst
COMPOSE_WAIT_S ?= 180
# docker compose (v2) where it is installed, else docker-compose (v1): the file suits both.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
COMPOSE_CMD = $(COMPOSE) --project-name $(COMPOSE_PROJECT) --file $(COMPOSE_FILE)

.PHONY: compose-up compose-down

compose-up: images  ## Start the compose cluster (2 nodes x 2 executors) and wait until it is healthy
	@services=$$($(COMPOSE_CMD) config --services | wc -l); \
	$(COMPOSE_CMD) up --detach --remove-orphans && \
	bash compose/wait-healthy.sh $(COMPOSE_PROJECT) $$services $(COMPOSE_WAIT_S)
	@echo "Connect from this machine (the scheduler is on 127.0.0.1:$${CLOUDBURST_SCHEDULER_PORT:-7070}):"
	@echo "  python: CloudburstConnection('127.0.0.1', '127.0.0.1', local=True)"
	@echo "  shell:  .venv/bin/cbctl functions list"
	@echo "  status: management (observer) on 127.0.0.1:$${CLOUDBURST_MANAGEMENT_PORT:-7071}"
	@echo "  logs:   $(COMPOSE_CMD) logs -f scheduler"
	@echo "  stop:   make compose-down"

compose-down:  ## Stop the compose cluster; remove its containers, network and volumes
	$(COMPOSE_CMD) down --volumes --remove-orphans --timeout 10
