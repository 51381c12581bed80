# fedkd coordinator: REST API + socket.io endpoint + rounds, SQLite in /data.
# Build from the repository root: docker build -f docker/coordinator.Dockerfile .

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
# bench/connections.ts starts PostgreSQL and Redis with the tests' helpers
COPY test/support ./test/support
RUN npm run build && npm prune --omit=dev

# --- runtime: no compilers, non-root ---
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    FEDKD_HOST=0.0.0.0 \
    FEDKD_PORT=8080 \
    FEDKD_DB=/data/fedkd.sqlite
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# /keys: a key volume shared by replicas (docker/compose.scale.yaml), mounted read-only there
RUN mkdir -p /data /public /keys && chown node:node /data /public /keys
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FEDKD_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/apps/coordinator/src/main.js"]
