# Dockerfile: shared-context-server as a small, non-root container.
#
#   docker build -t shared-context-server .
#   docker run -p 23456:23456 -e API_KEY=... -e ADMIN_API_KEY=... -v scs-data:/data shared-context-server
#
# With PostgreSQL: docker compose -f docker-compose.postgresql.yml up -d (see docs/operations.md).
# The HEALTHCHECK command below is run against the real binary by tests/it/deploy.rs; the image
# itself has not been built on the project's machines (they have no Docker engine).

# ---- build stage ------------------------------------------------------------
# Same Rust as the project's toolchain (rustc 1.95; Cargo.toml asks for at least 1.94) and the
# same Debian release as the runtime stage, so the binary links against the same glibc.
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# 1. Dependencies only. This layer is rebuilt only when Cargo.toml, Cargo.lock or build.rs
#    change: a placeholder lib and main let cargo compile every dependency (--locked: exactly
#    the versions in Cargo.lock, or fail).
#    The workspace names the load generator (bench/), so its manifest and placeholders come too;
#    only the server package is built (-p), and the image carries only the server binary.
COPY Cargo.toml Cargo.lock build.rs ./
COPY bench/Cargo.toml ./bench/
RUN mkdir -p src migrations bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && : > bench/src/lib.rs \
    && cargo build --release --locked -p shared-context-server \
    && rm -rf src

# 2. The real sources. The migrations are embedded in the binary at compile time (sqlx::migrate!).
#    touch: COPY keeps the files' original modification times, which can be older than the
#    placeholders above; cargo would then reuse the placeholder build.
COPY src ./src
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked -p shared-context-server \
    && install -D -m 0755 target/release/shared-context-server /out/shared-context-server

# ---- runtime stage ----------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: the system CA bundle (/etc/ssl/certs/ca-certificates.crt) for sslrootcert= when
# PostgreSQL's certificate comes from a public CA. The binary needs nothing else: SQLite and TLS
# (rustls) are compiled in, and it links only against libc, libm and libgcc_s.
# User scs (uid/gid 10001) owns the data directory; the server never runs as root.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 scs \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin scs \
    && install -d -o 10001 -g 10001 -m 0700 /data

COPY --from=builder /out/shared-context-server /usr/local/bin/shared-context-server

# Listen on all interfaces inside the container. The Host-header allow-list still applies to /mcp:
# set ALLOWED_HOSTS to the names clients use (probes and /metrics accept any Host).
# SCS_DATA_DIR holds the SQLite database (when DATABASE_URL is not set) and generated keys.
ENV HTTP_HOST=0.0.0.0 \
    HTTP_PORT=23456 \
    MCP_TRANSPORT=http \
    SCS_DATA_DIR=/data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 23456

# The binary's own `healthcheck` subcommand asks /health/ready on HTTP_PORT (200 when the database
# answers, 503 when not or while shutting down): no shell or curl needed in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/shared-context-server", "healthcheck"]

# SIGTERM (docker stop) ends event streams at once and drains in-flight requests for up to
# SHUTDOWN_GRACE_SECONDS (10 s).
ENTRYPOINT ["/usr/local/bin/shared-context-server"]
CMD ["serve"]
