# Switchboard's container image.
#
# Two stages on Debian bookworm, the release the project is built and tested on: the first
# builds with the -dev packages, the second holds only the shared libraries the binary loads,
# libwebsockets' libuv plugin among them (tests/k8s/dockerfile.test.mjs checks that list
# against the libraries a running server maps). The binary runs as PID 1: it handles SIGTERM
# itself (readiness turns 503, then connections close over --drain-seconds) and starts no child
# processes, so no init process is needed. There is no HEALTHCHECK: Kubernetes probes /healthz
# and /readyz (k8s/base/deployment.yaml).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libwebsockets-dev libuv1-dev libjsoncpp-dev libhiredis-dev \
      libsimdjson-dev libjwt-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The build type the benchmarks measure (docs/benchmarks.md), without the tests.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && cmake --build build --target switchboard -j"$(nproc)" \
 && strip --strip-unneeded build/switchboard

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libwebsockets17 libwebsockets-evlib-uv libuv1 libjsoncpp25 libhiredis0.14 libsimdjson14 \
      libjwt0 libssl3 libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-log-init --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin \
      switchboard
COPY --from=build /src/build/switchboard /usr/local/bin/switchboard
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchboard"]
