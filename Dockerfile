# Spool: multi-stage image. Build with `docker build -t spool:0.1.0 .`, run with
#   docker run -p 50051:50051 -e DATABASE_URL=postgres://... \
#     -v ./tokens.json:/etc/spool/tokens.json:ro -e SPOOL_AUTH_TOKENS_FILE=/etc/spool/tokens.json spool:0.1.0
# It listens on 0.0.0.0, so it needs an identity source (docs/security.md) or SPOOL_AUTH=none.
# Without DATABASE_URL it runs its embedded Postgres with data in /var/lib/spool (mount a
# volume there to keep it). It loads handler modules from /app/tasks (SPOOL_TASKS), empty
# here: an image FROM this one puts yours there (docs/docker.md, examples/docker/Dockerfile).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY sdk/package.json sdk/
COPY service/package.json service/
COPY e2e/package.json e2e/
COPY examples/package.json examples/
COPY dashboard/package.json dashboard/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY proto proto
COPY sdk sdk
COPY service service
COPY dashboard dashboard
RUN npx tsc -b proto sdk service \
 && npm run build -w @spool/dashboard \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf e2e bench examples service/src/test-support \
 && mkdir tasks

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SPOOL_HOST=0.0.0.0 \
    SPOOL_PORT=50051 \
    SPOOL_DATA_DIR=/var/lib/spool \
    SPOOL_TASKS=/app/tasks
RUN groupadd --system --gid 10001 spool \
 && useradd --system --uid 10001 --gid spool --home-dir /var/lib/spool spool \
 && mkdir -p /var/lib/spool \
 && chown spool:spool /var/lib/spool
WORKDIR /app
COPY --from=build --chown=root:root /app /app
USER spool
EXPOSE 50051 8080
VOLUME ["/var/lib/spool"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "service/dist/healthcheck.js"]
STOPSIGNAL SIGTERM
CMD ["node", "service/dist/main.js"]
