#!/bin/sh
# Prints the Temporal UI's key to the API's codec endpoint (/codec/ui/<key>) for the ADMIN_TOKEN in the
# environment: an HMAC-SHA256 of "temporal-ui-codec" keyed with the admin token, base64url without
# padding, as codecUiKey() in src/api/routes/codec.ts computes it. It changes with the admin token.
#   ADMIN_TOKEN=... sh deploy/codec-ui-key.sh
set -eu
: "${ADMIN_TOKEN:?set ADMIN_TOKEN to the admin token of the API}"
printf %s temporal-ui-codec | openssl dgst -sha256 -hmac "${ADMIN_TOKEN}" -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='
echo
