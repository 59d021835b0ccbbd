# docker compose: a multi-node cluster of containers on this machine (issue 5); see
# docs/containers.md, "docker compose". Included from the Makefile.

COMPOSE_FILE := compose/docker-compose.yml
COMPOSE_PROJECT ?= cloudburst
COMPOSE_WAIT_S ?= 180
# docker compose (v2) where it is installed, else docker-compose (v1): the file suits both.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
COMPOSE_CMD = $(COMPOSE) --project-name $(COMPOSE_PROJECT) --file $(COMPOSE_FILE)
# The cluster's secret and the host's admin token ($CLOUDBURST_HOME/token), which compose
# reads from the .env beside the file (docs/security.md).
COMPOSE_SECRETS := compose/.env

.PHONY: compose-up compose-down

compose-up: images install  ## Start the compose cluster (2 nodes x 2 executors) and wait until it is healthy
	$(VENV)/bin/python -m cloudburst_management.secrets_file $(COMPOSE_SECRETS)
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
	CLOUDBURST_CLUSTER_SECRET=$${CLOUDBURST_CLUSTER_SECRET:-unused-by-down} \
	CLOUDBURST_ADMIN_TOKEN=$${CLOUDBURST_ADMIN_TOKEN:-unused-by-down} \
	$(COMPOSE_CMD) down --volumes --remove-orphans --timeout 10
