# syntax=docker/dockerfile:1
# pharos-probe image: runs HTTP/TCP/DNS/TLS checks leased from the operator. The operator's
# per-region DaemonSets use it; it also runs anywhere as a private location:
#
# Build from the repository root (the context must be the repo):
#   docker build -f docker/probe.Dockerfile -t ghcr.io/pharos-dev/pharos-probe:0.1.0 .
#   docker run --rm ghcr.io/pharos-dev/pharos-probe:0.1.0 --help

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
# The whole source tree is configured because CMake defines every library.
COPY CMakeLists.txt ./
COPY src/ src/
COPY probe/ probe/
COPY operator/ operator/
COPY cli/ cli/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE} \
      -DPHAROS_BUILD_TESTS=OFF -DPHAROS_BUILD_BENCH=OFF \
 && cmake --build /build --target pharos-probe ${JOBS:+-j${JOBS}} \
 && strip --strip-unneeded /build/bin/pharos-probe

# ---------------------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim
# Shared libraries of the binary only; ca-certificates to verify targets' certificates.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libcurl4 libyaml-cpp0.7 libspdlog1.10 libfmt9 libjemalloc2 \
      libssl3 libc-ares2 libpcre2-8-0 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 pharos \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin pharos
COPY --from=build /build/bin/pharos-probe /usr/local/bin/pharos-probe
# Fail the build if a shared library of the binary is missing from the runtime image.
RUN ! ldd /usr/local/bin/pharos-probe | grep 'not found'
LABEL org.opencontainers.image.title="pharos-probe" \
      org.opencontainers.image.description="Pharos synthetic monitoring probe agent" \
      org.opencontainers.image.source="https://github.com/pharos-dev/pharos"
USER 65532:65532
EXPOSE 9091
ENTRYPOINT ["/usr/local/bin/pharos-probe"]
