# PostgreSQL 15 from Debian bookworm for coordinator replicas (docker/compose.scale.yaml).
# Build from the repository root: docker build -f docker/postgres.Dockerfile .
# FROM the same local base as the other images (no registry is needed: docker/make-base-image.sh).
# First start: initdb into the /var/lib/postgresql/data volume with POSTGRES_USER (default fedkd)
# and POSTGRES_PASSWORD (required), a POSTGRES_DB database (default fedkd), password
# (scram-sha-256) authentication from the network. Runs as the `postgres` user.
FROM node:20-bookworm-slim
# No service is started during the build (policy-rc.d), and Debian's packaging creates no cluster
# of its own: the entry point makes one in the volume (as the official postgres images do).
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*$/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)" /usr/lib/postgresql/bin \
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data && chmod 0700 /var/lib/postgresql/data
# (executable in git; COPY keeps the mode)
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    POSTGRES_USER=fedkd \
    POSTGRES_DB=fedkd
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# Healthy once the real server accepts TCP connections (not during the first start's set-up).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["pg_isready", "--host", "127.0.0.1", "--port", "5432", "--quiet"]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
