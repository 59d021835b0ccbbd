# Container images without a registry (issue 5); see docs/containers.md.
# Included from the Makefile. The work is in mk/images.sh, mk/base-image.sh, mk/wheelhouse.sh.

IMAGE_TAG ?= dev
DEBIAN_SUITE ?= bookworm
# BASE_IMAGE: empty means the local Debian base (cloudburst/base:$(DEBIAN_SUITE)), built with
# debootstrap; python:3.11-slim (the Dockerfiles' default) gives what real users get.
BASE_IMAGE ?=
IMAGES_ENV = IMAGE_TAG=$(IMAGE_TAG) DEBIAN_SUITE=$(DEBIAN_SUITE) $(if $(BASE_IMAGE),BASE_IMAGE=$(BASE_IMAGE))

.PHONY: images images-clean

images: .tools/bin/uv  ## Build the container images (local base, wheelhouse, services, redis); cached
	$(IMAGES_ENV) bash mk/images.sh

images-clean:  ## Remove this project's images (by label) and the image build folders
	@for pass in 1 2 3; do \
		ids=$$(docker image ls -q --filter label=org.cloudburst.project=cloudburst | sort -u); \
		[[ -z $$ids ]] && break; \
		docker image rm --force $$ids >/dev/null 2>&1 || true; \
	done; \
	left=$$(docker image ls -q --filter label=org.cloudburst.project=cloudburst | wc -l); \
	echo "images-clean: $$left project images left"
	rm -rf build/images build/wheelhouse build/wheelhouse.tmp
