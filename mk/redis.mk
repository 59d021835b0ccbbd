# redis-server (Debian's package) for the storage tests, which start real Redis servers and a
# Redis Cluster on loopback (tests/storage), and curl, with which the security tests send a
# raw HTTP/2 request (tests/e2e/test_security.py). The test targets (`make test`, `unit`, `e2e`)
# install it when it is missing; `make install` and `make up` do not (the embedded storage
# needs no system package). Without root or apt it says so and the tests skip (they fail
# instead when CI=true).
.PHONY: redis

redis:  ## Install redis-server, redis-cli and curl (Debian packages) when missing
	@if command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
	    && command -v curl >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	    echo "redis: no apt-get here; install redis-server yourself (tests/storage skip without it)"; \
	    exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "redis: not root; run 'sudo apt-get install redis-server' (tests/storage skip without it)"; exit 0; fi; \
	echo "redis: installing redis-server and curl (apt-get)"; \
	$$sudo apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
	    redis-server curl >/dev/null && \
	redis-server --version
