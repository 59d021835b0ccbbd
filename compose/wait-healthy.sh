#!/usr/bin/env bash
# Usage: compose/wait-healthy.sh PROJECT EXPECTED [DEADLINE_S]
#
# Waits until the EXPECTED containers of the docker compose project PROJECT are all healthy
# (Docker's health status: the images' gRPC health checks, redis-cli ping), printing one
# progress line. docker-compose 1.29 (v1) has no `up --wait`, so `make compose-up` waits here
# with any compose. Fails at once when a container exits or turns unhealthy, and after
# DEADLINE_S seconds (default 180); either way it prints the logs of what is not healthy.
set -euo pipefail

project=${1:?usage: wait-healthy.sh PROJECT EXPECTED [DEADLINE_S]}
expected=${2:?usage: wait-healthy.sh PROJECT EXPECTED [DEADLINE_S]}
deadline_s=${3:-180}
started=$SECONDS
tty=0
[[ -t 1 ]] && tty=1

# One line per container of the project: <service> <health or state>.
states() {
    local ids
    ids=$(docker ps --all --quiet --filter "label=com.docker.compose.project=$project")
    [[ -z $ids ]] && return 0
    # shellcheck disable=SC2086  # one argument per id
    docker inspect --format \
        '{{index .Config.Labels "com.docker.compose.service"}} {{if .State.Health}}{{if eq .State.Status "running"}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}{{else}}{{.State.Status}}{{end}}' \
        $ids | sort
}

show_logs() {
    local service
    for service in "$@"; do
        echo "--- $service (last 20 log lines)"
        docker logs --tail 20 "$(docker ps --all --quiet \
            --filter "label=com.docker.compose.project=$project" \
            --filter "label=com.docker.compose.service=$service" | head -1)" 2>&1 || true
    done
}

last_print=-1
while :; do
    now=$SECONDS
    listing=$(states)
    healthy=$(grep -c ' healthy$' <<<"$listing" || true)
    waiting=$(awk '$2 != "healthy" {print $1}' <<<"$listing" | paste -sd, -)
    failed=$(awk '$2 == "unhealthy" || $2 == "exited" || $2 == "dead" {print $1}' <<<"$listing")
    line="compose: $healthy/$expected healthy after $((now - started)) s${waiting:+ (waiting: $waiting)}"
    if ((tty)); then
        printf '\r\033[K%s' "$line"
    elif ((now - last_print >= 5)); then
        echo "$line"
        last_print=$now
    fi
    if ((healthy >= expected)) && [[ -z $waiting ]]; then
        ((tty)) && echo
        echo "compose: all $expected services healthy in $((now - started)) s"
        exit 0
    fi
    if [[ -n $failed ]]; then
        ((tty)) && echo
        echo "compose: failed: $(paste -sd' ' <<<"$failed")" >&2
        # shellcheck disable=SC2086  # one argument per service
        show_logs $failed >&2
        exit 1
    fi
    if ((now - started >= deadline_s)); then
        ((tty)) && echo
        echo "compose: not healthy after $deadline_s s: ${waiting:-containers missing}" >&2
        # shellcheck disable=SC2086
        show_logs ${waiting//,/ } >&2
        exit 1
    fi
    sleep 1
done
