#!/bin/bash
# The official postgres image's entrypoint contract, for Debian's PostgreSQL 15 (images/postgres/Dockerfile):
#   first start with an empty $PGDATA: initdb with POSTGRES_USER (default postgres) as superuser and
#   POSTGRES_PASSWORD, create POSTGRES_DB (default: the user's name), run /docker-entrypoint-initdb.d/*.sh and
#   *.sql against a server that listens on the socket only, stop it, log "PostgreSQL init process complete";
#   then exec the server (listen_addresses = '*' in postgresql.conf, port 5432) as the postgres user. Arguments starting with '-'
#   are passed to postgres; any other command runs as given.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export POSTGRES_USER POSTGRES_DB

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "error: the database is uninitialised and POSTGRES_PASSWORD is not set; set it (or" \
         "POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
         --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A server for the init scripts, on the socket only, so nobody connects before the init is complete.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sh) echo "$0: running $file"; . "$file" ;;
      *.sql) echo "$0: running $file"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$file" ;;
      *) if [ -e "$file" ]; then echo "$0: ignoring $file"; fi ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
fi

exec "$@"
