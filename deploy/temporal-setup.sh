#!/bin/sh
# One-shot setup for the compose stack's Temporal server: registers Patchflow's custom search attributes
# (workflows/search-attributes.ts) in the namespace. It runs in temporalio/admin-tools.
#
# Safe to run again: an attribute that already exists is skipped. It then checks that every
# attribute is listed with the right type, and exits non-zero if one is missing or has another type,
# so patchflow-api and patchflow-worker, which wait for this service to succeed, do not start.
#
# Environment: TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE, SETUP_TRIES (tries 2 s apart).
# POSIX sh: the admin-tools image's /bin/sh is not guaranteed to be bash.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
TRIES="${SETUP_TRIES:-150}"
# name:type, as in workflows/search-attributes.ts
ATTRIBUTES="DeviceId:Keyword DeviceName:Keyword ClientId:Keyword SiteId:Keyword Operation:Keyword PatchKBs:KeywordList"

say() { echo "[temporal-setup] $*"; }

# Wait for the frontend and for the namespace: temporalio/auto-setup creates the namespace only after
# the server is serving, so the server being up is not enough.
i=0
until temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge "$TRIES" ]; then
    say "namespace '$NAMESPACE' not reachable at $ADDRESS after $TRIES tries; last answer:"
    temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" || true
    exit 1
  fi
  say "waiting for Temporal at $ADDRESS and namespace '$NAMESPACE' ($i/$TRIES)"
  sleep 2
done
say "namespace '$NAMESPACE' is up at $ADDRESS"

for spec in $ATTRIBUTES; do
  name="${spec%%:*}"
  type="${spec#*:}"
  if out="$(temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type" 2>&1)"; then
    say "created $name ($type)"
  elif printf '%s' "$out" | grep -qi 'already exists'; then
    # A second run of the stack, or a name that exists with another type: the check below tells which.
    say "$name already exists"
  else
    say "could not create $name ($type): $out"
    exit 1
  fi
done

# Check: each attribute listed with its type. The listing comes from the frontend's namespace cache,
# so retrying here also waits until new attributes are usable in StartWorkflowExecution.
i=0
while :; do
  listing="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>&1 || true)"
  missing=""
  for spec in $ATTRIBUTES; do
    name="${spec%%:*}"
    type="${spec#*:}"
    # a row reads "  DeviceId  Keyword"; the trailing space or end of line keeps Keyword from matching KeywordList
    if ! printf '%s\n' "$listing" | grep -Eq "^[[:space:]]*${name}[[:space:]]+${type}([[:space:]]|\$)"; then
      missing="$missing $name:$type"
    fi
  done
  if [ -z "$missing" ]; then
    say "search attributes ready in '$NAMESPACE': $ATTRIBUTES"
    exit 0
  fi
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then
    say "missing or of another type after $i checks:$missing"
    printf '%s\n' "$listing"
    exit 1
  fi
  sleep 2
done
