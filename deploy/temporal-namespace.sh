#!/bin/sh
# Creates the namespace Switchyard runs in and registers the custom search attributes its runs carry
# (docker-compose.yml, service temporal-setup), once the Temporal server answers. Idempotent: an
# existing namespace is kept as it is, and attributes already registered with the same type are
# skipped by the server (a different type fails the job, as it should).
# TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, NAMESPACE_RETENTION (e.g. 168h) and SEARCH_ATTRIBUTES
# (space-separated Name:Type pairs) come from the compose file.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${NAMESPACE_RETENTION:?}" "${SEARCH_ATTRIBUTES:?}"

# Runs "$@" until it succeeds, 30 times 2 s apart at most: a namespace just created reaches the
# frontend's namespace cache only after a few seconds, and until then calls naming it fail.
retry() {
  attempt=1
  until "$@"; do
    if [ "${attempt}" -ge 30 ]; then
      echo "temporal-setup: giving up after ${attempt} attempts: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

# Describe first: `namespace create` fails on an existing namespace.
ensure_namespace() {
  temporal operator namespace describe --address "${TEMPORAL_ADDRESS}" --namespace "${TEMPORAL_NAMESPACE}" >/dev/null 2>&1 ||
    temporal operator namespace create --address "${TEMPORAL_ADDRESS}" --namespace "${TEMPORAL_NAMESPACE}" --retention "${NAMESPACE_RETENTION}"
}
retry ensure_namespace
echo "temporal-setup: namespace ${TEMPORAL_NAMESPACE} is there"

# One call for all attributes: --name A --type Keyword --name B --type Keyword ...
set --
for pair in ${SEARCH_ATTRIBUTES}; do
  set -- "$@" --name "${pair%%:*}" --type "${pair#*:}"
done
retry temporal operator search-attribute create --address "${TEMPORAL_ADDRESS}" --namespace "${TEMPORAL_NAMESPACE}" "$@"
echo "temporal-setup: search attributes registered: ${SEARCH_ATTRIBUTES}"
