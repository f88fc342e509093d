# Multi-stage build of meld-gateway. The runtime image holds only the binary,
# runs as a non-root user and keeps all data on the /data volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
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
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["meld-gateway"]
CMD ["serve"]
