#!/bin/bash
# Runs once, when the postgres image initialises an empty data volume (docker-entrypoint-initdb.d):
# creates Patchflow's own login role and database, owned by that role, so Patchflow does not use
# Temporal's superuser. Editing this file later changes nothing on an existing volume.
set -e

: "${PATCHFLOW_DB_PASSWORD:?PATCHFLOW_DB_PASSWORD must be set}"

# psql substitutes :'pw' as a quoted literal, so any password is safe here. It must also be
# URL-safe (or percent-encoded) in DATABASE_URL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$PATCHFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE patchflow LOGIN PASSWORD :'pw';
CREATE DATABASE patchflow OWNER patchflow;
REVOKE ALL ON DATABASE patchflow FROM PUBLIC;
SQL
