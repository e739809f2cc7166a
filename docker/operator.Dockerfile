# syntax=docker/dockerfile:1
# pharos-operator image: scheduler, dispatcher, state, store, probe API, status page, /metrics.
#
# Build from the repository root (the context must be the repo):
#   docker build -f docker/operator.Dockerfile -t ghcr.io/pharos-dev/pharos-operator:0.1.0 .
# Run (outside Kubernetes it needs a kubeconfig, or use the `pharos run` CLI instead):
#   docker run --rm -p 8080:8080 ghcr.io/pharos-dev/pharos-operator:0.1.0 --help

ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------- build
FROM debian:${DEBIAN_RELEASE} AS build
ARG BUILD_TYPE=Release
ARG JOBS=
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libcpprest-dev libcurl4-openssl-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev \
      libfmt-dev libsqlite3-dev libssl-dev libc-ares-dev libpcre2-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build needs (tests and benchmarks are off), so edits elsewhere keep the cache.
COPY CMakeLists.txt ./
COPY src/ src/
COPY probe/ probe/
COPY operator/ operator/
COPY cli/ cli/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE} \
      -DPHAROS_BUILD_TESTS=OFF -DPHAROS_BUILD_BENCH=OFF \
 && cmake --build /build --target pharos-operator ${JOBS:+-j${JOBS}} \
 && strip --strip-unneeded /build/bin/pharos-operator

# ---------------------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim
# Shared libraries of the binary only (the -dev packages' runtime halves).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libcurl4 libyaml-cpp0.7 libspdlog1.10 libfmt9 libjemalloc2 \
      libsqlite3-0 libssl3 libc-ares2 libpcre2-8-0 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 pharos \
 && useradd --system --uid 65532 --gid 65532 --home-dir /var/lib/pharos --shell /usr/sbin/nologin pharos \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/pharos \
 && install -d -m 0755 /etc/pharos
COPY --from=build /build/bin/pharos-operator /usr/local/bin/pharos-operator
# Fail the build if a shared library of the binary is missing from the runtime image.
RUN ! ldd /usr/local/bin/pharos-operator | grep 'not found'
LABEL org.opencontainers.image.title="pharos-operator" \
      org.opencontainers.image.description="Pharos synthetic monitoring operator" \
      org.opencontainers.image.source="https://github.com/pharos-dev/pharos"
USER 65532:65532
WORKDIR /var/lib/pharos
VOLUME ["/var/lib/pharos"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pharos-operator"]
