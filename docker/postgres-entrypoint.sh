#!/bin/sh
# Entry point of docker/postgres.Dockerfile: initialises $PGDATA on first start, then runs the server.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (docker/.env: POSTGRES_PASSWORD=...)}"
user=${POSTGRES_USER:-fedkd}
db=${POSTGRES_DB:-fedkd}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres-entrypoint: initialising $PGDATA (user $user, database $db)"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --pgdata "$PGDATA" --username "$user" --pwfile "$pwfile" --auth-local trust --auth-host scram-sha-256 --encoding UTF8 > /dev/null
  rm -f "$pwfile"
  # Password authentication from any address of the container network (the port is not published).
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  # The database, with a server that listens on a private socket only (not healthy meanwhile).
  pg_ctl --pgdata "$PGDATA" --options "-c listen_addresses= -k /tmp" --wait --silent start
  if [ "$db" != postgres ]; then createdb --host /tmp --username "$user" "$db"; fi
  pg_ctl --pgdata "$PGDATA" --mode fast --wait --silent stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k /tmp
