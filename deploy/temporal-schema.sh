#!/bin/sh
# Creates Temporal's two Postgres databases and brings their schemas to the version this admin-tools
# image ships (docker-compose.yml, service temporal-schema). Run before the Temporal server starts, on
# every `docker compose up` and after every change of the Temporal image tags: each step is idempotent
# (create skips an existing database, setup-schema skips a schema past 0.0, update-schema applies only
# the versions not yet applied).
# temporal-sql-tool reads the connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD;
# DBNAME and VISIBILITY_DBNAME name the databases, as they do for the server.
set -eu

SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

migrate() {
  database=$1
  versioned=$2
  echo "temporal-schema: ${database} from ${versioned}"
  temporal-sql-tool --db "${database}" create
  temporal-sql-tool --db "${database}" setup-schema -v 0.0
  temporal-sql-tool --db "${database}" update-schema -d "${versioned}"
}

migrate "${DBNAME:?}" "${SCHEMA_DIR}/temporal/versioned"
migrate "${VISIBILITY_DBNAME:?}" "${SCHEMA_DIR}/visibility/versioned"
echo 'temporal-schema: done'
