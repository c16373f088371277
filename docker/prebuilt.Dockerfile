# The test and runtime images of docker/Dockerfile, made from binaries built
# on the host (tests/containers/run) instead of compiling inside the image.
# The host must be Debian 12 too, so the binaries find the same libraries.
#
#   docker build -f docker/Dockerfile --target runtime-base -t shmarray-runtime-base .
#   docker build -f docker/prebuilt.Dockerfile --target runtime -t shmarray CONTEXT
#
# CONTEXT holds prefix/ (cmake --install of a Release build) and tools/
# (remote_client_tool).
ARG BASE=shmarray-runtime-base:latest
FROM ${BASE} AS test
COPY prefix/ /usr/local/
COPY tools/ /usr/local/bin/

FROM ${BASE} AS runtime
COPY prefix/ /usr/local/
