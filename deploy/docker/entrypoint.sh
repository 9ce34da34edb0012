#!/bin/sh
# Entry point of the Tributary image: runs apps/$SERVICE/dist/main.js with the remaining
# arguments. SERVICE comes from the environment or, when unset, from the first argument.
#
# Node ids from the pod name: a StatefulSet pod is named <set>-<ordinal>; when
# TRIBUTARY_NODE_ID is unset and POD_NAME is set, the broker, controller and group
# coordinator take the ordinal as their id (plus TRIBUTARY_NODE_ID_OFFSET, default 0).
# Rack: when TRIBUTARY_RACK is unset and the file TRIBUTARY_RACK_FILE (default
# /etc/tributary/rack, written by the Helm chart's init container from the node's topology
# label) is not empty, the broker's rack is its content.
# TRIBUTARY_PRINT_COMMAND=1 prints what would run (node id, rack, command) and exits.
set -eu

APP_ROOT="${APP_ROOT:-/app}"
SERVICES="coordination controller broker group-coordinator rest-proxy cli"

service="${SERVICE:-}"
if [ -z "$service" ] && [ $# -gt 0 ]; then
  service="$1"
  shift
elif [ -n "$service" ] && [ $# -gt 0 ] && [ "$1" = "$service" ]; then
  shift
fi
case " $SERVICES " in
  *" $service "*) ;;
  *)
    echo "tributary: set SERVICE (or give as first argument) one of: $SERVICES; got '${service}'" >&2
    exit 64
    ;;
esac

if [ -z "${TRIBUTARY_NODE_ID:-}" ] && [ -n "${POD_NAME:-}" ]; then
  case "$service" in
    broker | controller | group-coordinator)
      ordinal="${POD_NAME##*-}"
      case "$ordinal" in
        '' | *[!0-9]*)
          echo "tributary: cannot take a node id from POD_NAME=$POD_NAME (no -<ordinal> suffix): set TRIBUTARY_NODE_ID" >&2
          exit 64
          ;;
      esac
      TRIBUTARY_NODE_ID=$((ordinal + ${TRIBUTARY_NODE_ID_OFFSET:-0}))
      export TRIBUTARY_NODE_ID
      ;;
  esac
fi

rack_file="${TRIBUTARY_RACK_FILE:-/etc/tributary/rack}"
if [ "$service" = broker ] && [ -z "${TRIBUTARY_RACK:-}" ] && [ -s "$rack_file" ]; then
  TRIBUTARY_RACK="$(cat "$rack_file")"
  export TRIBUTARY_RACK
fi

main="$APP_ROOT/apps/$service/dist/main.js"
# The broker's Node flags: BROKER_NODE_FLAGS in libs/runtime/src/node-flags.ts (why; its spec
# checks this copy). A 128 MiB floor under V8's old-generation limit: without it a busy broker
# ran a full GC every ~100 ms (most costly under TLS).
node_flags=""
if [ "$service" = broker ]; then
  node_flags="--initial-old-space-size=128"
fi
if [ "${TRIBUTARY_PRINT_COMMAND:-}" = 1 ]; then
  echo "TRIBUTARY_NODE_ID=${TRIBUTARY_NODE_ID:-} TRIBUTARY_RACK=${TRIBUTARY_RACK:-} node ${node_flags:+$node_flags }$main $*"
  exit 0
fi
# shellcheck disable=SC2086 # node_flags is a list of flags without spaces inside them
exec node $node_flags "$main" "$@"
