# fedkd edge client: private data and teacher stay in the container; only soft predictions leave.
# Build from the repository root: docker build -f docker/edge-client.Dockerfile .

# --- build: full toolchain (better-sqlite3 compiles from source with node-gyp) ---
FROM node:20-bookworm AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

# --- runtime: no compilers, non-root ---
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    FEDKD_STATUS_FILE=/data/status.json
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# Healthy while the client is connected to its coordinator (it rewrites the status file on every change).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "const s=JSON.parse(require('fs').readFileSync(process.env.FEDKD_STATUS_FILE,'utf8'));process.exit(s.connected?0:1)"]
ENTRYPOINT ["node", "dist/apps/edge-client/src/main.js"]
