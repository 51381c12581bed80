# fedkd edge client: private data and teacher stay in the container; only soft predictions leave.
# Build from the repository root: docker build -f docker/edge-client.Dockerfile .
# The client loads neither Nest nor SQLite: its image installs only apps/edge-client/package.json
# (TensorFlow.js, socket.io-client, sharp, ...), and needs no compilers at any stage.

# --- build: TypeScript only (install scripts skipped: no native module is built) ---
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
COPY bench ./bench
# bench/connections.ts starts PostgreSQL and Redis with the tests' helpers
COPY test/support ./test/support
RUN npm run build

# --- runtime: the client's own dependencies, non-root ---
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    FEDKD_STATUS_FILE=/data/status.json
COPY --chown=node:node apps/edge-client/package.json apps/edge-client/package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build --chown=node:node /app/dist/apps/edge-client ./dist/apps/edge-client
COPY --from=build --chown=node:node /app/dist/libs ./dist/libs
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# Healthy while the client is connected to its coordinator (it rewrites the status file on every change).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "const s=JSON.parse(require('fs').readFileSync(process.env.FEDKD_STATUS_FILE,'utf8'));process.exit(s.connected?0:1)"]
ENTRYPOINT ["node", "dist/apps/edge-client/src/main.js"]
