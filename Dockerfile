# syntax=docker/dockerfile:1
# crdt-limiter in a container: built with the Rust toolchain, run on slim
# Debian as a non-root user.
#
#   docker build -t crdt-limiter .
#   docker run --rm -p 8000:8000 crdt-limiter                 # standalone node
#   docker run --rm crdt-limiter --help                        # every setting
#   docker compose up --build                                  # 3 nodes + Kafka
#
# Settings come from flags or LIMITER_ environment variables (docs/configuration.md, "Settings").

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
# rdkafka compiles its bundled librdkafka with ./configure and make, and the
# OpenSSL it links (TLS, SASL/SCRAM) from source, whose Configure is perl; zlib
# is the only codec it enables. The rust image carries most of these already:
# listing them keeps the build working if it slims down.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl gcc g++ pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the downloaded crates and the compiled dependencies
# (librdkafka alone takes minutes) from one build to the next, whatever changed
# in the sources; `locked` because compose may build several services at once.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin crdt-limiter \
    && cp target/release/crdt-limiter /usr/local/bin/crdt-limiter

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 limiter \
    && useradd --system --uid 10001 --gid limiter --no-create-home --shell /usr/sbin/nologin limiter
COPY --from=build /usr/local/bin/crdt-limiter /usr/local/bin/crdt-limiter
# Numeric, so orchestrators can verify runAsNonRoot.
USER 10001:10001
EXPOSE 8000
# The binary itself handles SIGTERM (drain, publish pending state, exit 0).
ENTRYPOINT ["/usr/local/bin/crdt-limiter"]
