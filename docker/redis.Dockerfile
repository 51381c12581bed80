# Redis 7.0 from Debian bookworm: the socket.io Redis Streams adapter of coordinator replicas
# (docker/compose.scale.yaml). Build from the repository root: docker build -f docker/redis.Dockerfile .
# Nothing is persisted: the adapter's stream only carries broadcasts between live replicas.
# Reachable only on the compose network (no published port, no password): do not publish it.
FROM node:20-bookworm-slim
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["sh", "-c", "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG"]
ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--dir", "/data", "--save", "", "--appendonly", "no"]
