# HAProxy 2.6 from Debian bookworm: the load balancer in front of coordinator replicas
# (docker/compose.scale.yaml, configuration in docker/haproxy.cfg). Build from the repository root:
# docker build -f docker/haproxy.Dockerfile .
FROM node:20-bookworm-slim
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
COPY docker/haproxy.cfg /etc/haproxy/haproxy.cfg
# Checked at build time: a broken configuration fails the build, not the deployment.
RUN haproxy -c -q -f /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8080
# Healthy while at least one coordinator passes HAProxy's own GET /health check (monitor-uri).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/haproxy-health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
