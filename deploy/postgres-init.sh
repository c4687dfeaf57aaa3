#!/bin/sh
# Run by the postgres image on its first start (/docker-entrypoint-initdb.d/),
# as POSTGRES_USER in POSTGRES_DB: creates the application's role.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_password="$APP_DB_PASSWORD" -f /deploy/postgres-roles.sql
