#!/usr/bin/env bash
# Build the local base image from Debian packages: debootstrap a minimal bookworm with
# Debian's Python 3.11, slim it, and `docker import` it. No registry is needed, only the
# Debian mirror the host's apt already uses. On the way, download (not install) the
# redis-server packages for the storage engine's image, resolved against this very tree so
# that image can be built offline on top of this base.
#
# The packages go to WORKDIR/redis-debs and, so that a fresh clone on the same machine needs
# no new debootstrap, into DEBS_IMAGE: an image holding just /debs (mk/images.sh copies them
# out of it when the folder is missing).
#
# usage: mk/base-image.sh IMAGE DEBS_IMAGE SUITE MIRROR WORKDIR
# Skips everything when both images exist (FORCE=1 rebuilds them).
set -euo pipefail
image=$1 debs_image=$2 suite=$3 mirror=$4 workdir=$5
rootfs=$workdir/rootfs
debs=$workdir/redis-debs
docker=${DOCKER:-docker}
sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo

if [[ -z ${FORCE:-} ]] && $docker image inspect "$image" >/dev/null 2>&1 \
    && $docker image inspect "$debs_image" >/dev/null 2>&1; then
    echo "base image $image exists: skipped (FORCE=1 rebuilds it)"
    exit 0
fi

if ! command -v debootstrap >/dev/null; then
    echo "installing debootstrap (apt-get)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq debootstrap >/dev/null
fi

cleanup() {
    for m in proc dev; do
        if mountpoint -q "$rootfs/$m" 2>/dev/null; then $sudo umount -l "$rootfs/$m" || true; fi
    done
    $sudo rm -rf "$rootfs"
}
trap cleanup EXIT
cleanup
mkdir -p "$workdir"

started=$SECONDS
echo "debootstrap $suite from $mirror into $rootfs"
$sudo debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 \
    || { tail -n 30 "$workdir/debootstrap.log"; exit 1; }
echo "debootstrap: $((SECONDS - started)) s"

# The storage engine's packages, resolved against this tree (so exactly what the base lacks).
# The chroot shares the host's network; apt there reads the sources debootstrap wrote.
$sudo rm -f "$rootfs"/var/cache/apt/archives/*.deb
$sudo chroot "$rootfs" apt-get update -qq
$sudo chroot "$rootfs" apt-get install -y -qq --download-only --no-install-recommends redis-server \
    >/dev/null
rm -rf "$debs"
mkdir -p "$debs"
cp "$rootfs"/var/cache/apt/archives/*.deb "$debs"/
tar --numeric-owner --transform 's|^\.|debs|' -C "$debs" -c . | $docker import \
    --change 'LABEL org.cloudburst.project=cloudburst' - "$debs_image" >/dev/null
echo "redis-server packages: $(ls "$debs" | wc -l) files, $(du -sh "$debs" | cut -f1) ($debs_image)"

# Slim the tree the way Debian's -slim images are: no docs (copyright files stay), man pages,
# package lists or caches; later dpkg installs in images skip docs too.
$sudo tee "$rootfs/etc/dpkg/dpkg.cfg.d/cloudburst-slim" >/dev/null <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
$sudo find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
$sudo find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
$sudo rm -rf "$rootfs"/usr/share/{man,info}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* \
    "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
$sudo find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
    -exec rm -rf {} +

$sudo tar --numeric-owner -C "$rootfs" -c . | $docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL org.cloudburst.project=cloudburst' \
    --change "LABEL org.cloudburst.base=debian-$suite-minbase" \
    --change 'CMD ["python3"]' \
    - "$image" >/dev/null
echo "base image $image: $($docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'), built in $((SECONDS - started)) s"
