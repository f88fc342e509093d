# Multi-stage build of meld-gateway. The runtime image holds only the binary,
# runs as a non-root user and keeps all data on the /data volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
COPY benches ./benches
COPY doc/openapi.json ./doc/openapi.json
RUN cargo build --release --locked && strip target/release/meld-gateway

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin meld \
 && mkdir /data && chown meld /data
COPY --from=build /src/target/release/meld-gateway /usr/local/bin/meld-gateway
USER meld
VOLUME /data
ENV M_LD_GATEWAY_DATA_PATH=/data \
    M_LD_GATEWAY_ADDRESS__HOST=0.0.0.0 \
    M_LD_GATEWAY_ADDRESS__PORT=3000
EXPOSE 3000
# The health subcommand reads the same settings as serve (port, TLS)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["meld-gateway", "health"]
ENTRYPOINT ["meld-gateway"]
CMD ["serve"]
