#!/usr/bin/env bash
# `make images`: the container images, built without a registry.
#   1. the local base image (mk/base-image.sh: debootstrap + docker import), unless
#      BASE_IMAGE names another base (python:3.11-slim for real users, pulled as usual);
#   2. the wheelhouse (mk/wheelhouse.sh), only when an image has to be rebuilt;
#   3. cloudburst/{cache,scheduler,executor,management}:TAG from services/<svc>/Dockerfile and
#      cloudburst/redis:TAG from compose/redis/Dockerfile, with the legacy builder and
#      `--network none` when the base is the local one.
# Every image carries the label org.cloudburst.inputs: a hash of what it was built from (the
# sources of libs/ and services/ (not their tests), uv.lock, the Dockerfiles, these scripts,
# the base image's id; the images hold no code from sdk/ or cli/). An image
# whose label matches is not rebuilt, so a repeated `make images` (in this clone or a fresh
# one on the same machine) takes about a second.
#
# Settings (environment): DOCKER, IMAGE_TAG, BASE_IMAGE, LOCAL_BASE_IMAGE, DEBIAN_SUITE,
# DEBIAN_MIRROR, UV, PIP, IMAGES_DIR, WHEELHOUSE, FORCE=1 (rebuild everything).
set -euo pipefail
cd "$(dirname "$0")/.."

docker=${DOCKER:-docker}
tag=${IMAGE_TAG:-dev}
suite=${DEBIAN_SUITE:-bookworm}
local_base=${LOCAL_BASE_IMAGE:-cloudburst/base:$suite}
debs_image=cloudburst/redis-debs:$suite
base=${BASE_IMAGE:-$local_base}
uv=${UV:-.tools/bin/uv}
pip=${PIP:-.tools/bin/pip}
images_dir=${IMAGES_DIR:-build/images}
wheelhouse=${WHEELHOUSE:-build/wheelhouse}
services=(cache scheduler executor management)
project_label=org.cloudburst.project=cloudburst
export DOCKER_BUILDKIT=0  # the legacy builder, as on machines without BuildKit

if ! $docker info >/dev/null 2>&1; then
    echo "images: the Docker engine is not reachable ($docker info failed)" >&2
    exit 1
fi

mkdir -p "$images_dir"
exec 9>"$images_dir/.lock"
flock 9  # one build at a time on this clone (test sessions may start it concurrently)

started=$SECONDS
step() { echo "images: $*"; }

# 1. The base image.
network=(--network none)
if [[ $base == "$local_base" ]]; then
    DOCKER=$docker bash mk/base-image.sh "$local_base" "$debs_image" "$suite" \
        "${DEBIAN_MIRROR:-$(bash mk/debian-mirror.sh)}" "$images_dir"
    redis_base=$local_base
else
    step "base image $base (not the local one: builds may pull it and use the network)"
    network=()
    redis_base=debian:$suite-slim
fi
base_id=$($docker image inspect -f '{{.Id}}' "$base" 2>/dev/null || echo "$base")
redis_base_id=$($docker image inspect -f '{{.Id}}' "$redis_base" 2>/dev/null || echo "$redis_base")

# What the images are built from, hashed (file names and contents, sorted).
tree_hash() {
    find "$@" -type f -not -path '*/__pycache__/*' -not -path '*/tests/*' -not -name '*.pyc' \
        -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16
}
code_hash=$(
    { tree_hash libs services uv.lock pyproject.toml mk/images.sh mk/wheelhouse.sh
      echo "$base_id $tag"; } | sha256sum | cut -c1-16
)
redis_hash=$(
    { tree_hash compose/redis mk/images.sh mk/base-image.sh; echo "$redis_base_id $tag"
      $docker image inspect -f '{{.Id}}' "$debs_image" 2>/dev/null || true; } \
        | sha256sum | cut -c1-16
)

current() {  # current IMAGE HASH: the image exists and was built from HASH
    [[ -z ${FORCE:-} ]] && [[ $($docker image inspect -f \
        '{{index .Config.Labels "org.cloudburst.inputs"}}' "$1" 2>/dev/null || true) == "$2" ]]
}

build() {  # build IMAGE HASH DOCKERFILE CONTEXT BASE [extra docker build args...]
    local image=$1 hash=$2 dockerfile=$3 context=$4 from=$5 t0=$SECONDS
    shift 5
    local log=$images_dir/build-${image//[\/:]/_}.log
    $docker build --force-rm "${network[@]}" --build-arg "BASE_IMAGE=$from" \
        --label "$project_label" --label "org.cloudburst.inputs=$hash" \
        -f "$dockerfile" -t "$image" "$@" "$context" >"$log" 2>&1 \
        || { tail -n 40 "$log" >&2; echo "images: building $image failed (log: $log)" >&2; exit 1; }
    step "built $image in $((SECONDS - t0)) s"
}

rebuilt=0
# 2. + 3. The service images, from the wheelhouse.
stale=()
for svc in "${services[@]}"; do
    current "cloudburst/$svc:$tag" "$code_hash" || stale+=("$svc")
done
if ((${#stale[@]})); then
    [[ -x $uv && -x $pip ]] || { echo "images: $uv or $pip missing (run make install)" >&2; exit 1; }
    bash mk/wheelhouse.sh "$wheelhouse" "$uv" "$pip" "${services[@]/#/cloudburst-}"
    # The install stage is shared by the four Dockerfiles; tagging it keeps it out of the
    # dangling images pruned below, so it stays cached.
    build "cloudburst/install-stage:$tag" "$code_hash" services/cache/Dockerfile "$wheelhouse" \
        "$base" --target install
    for svc in "${stale[@]}"; do
        build "cloudburst/$svc:$tag" "$code_hash" "services/$svc/Dockerfile" "$wheelhouse" "$base"
    done
    rebuilt=1
else
    step "service images are current (inputs $code_hash): skipped"
fi

# The storage engine's image.
if current "cloudburst/redis:$tag" "$redis_hash"; then
    step "cloudburst/redis:$tag is current: skipped"
else
    context=$images_dir/redis
    rm -rf "$context"
    mkdir -p "$context/debs"
    if [[ $redis_base == "$local_base" ]]; then
        if ! compgen -G "$images_dir/redis-debs/*.deb" >/dev/null; then
            mkdir -p "$images_dir/redis-debs"
            # A fresh clone: the packages are kept in their own image.
            holder=$($docker create "$debs_image" /none)
            $docker cp "$holder:/debs/." "$images_dir/redis-debs/" \
                || { $docker rm "$holder" >/dev/null; exit 1; }
            $docker rm "$holder" >/dev/null
        fi
        cp "$images_dir"/redis-debs/*.deb "$context/debs/"
    fi
    build "cloudburst/redis:$tag" "$redis_hash" compose/redis/Dockerfile "$context" "$redis_base"
    rebuilt=1
fi

if ((rebuilt)); then
    # Older builds of these images, now untagged: drop them (ours only, by label).
    $docker image prune --force --filter "label=$project_label" >/dev/null
fi

step "done in $((SECONDS - started)) s"
for image in "$local_base" "${services[@]/#/cloudburst/}" cloudburst/redis; do
    [[ $image == */*:* ]] || image=$image:$tag
    $docker image inspect -f "{{.Size}}" "$image" 2>/dev/null \
        | awk -v i="$image" '{ printf "  %-32s %4.0f MB\n", i, $1 / 1e6 }' || true
done
