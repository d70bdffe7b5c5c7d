#!/bin/sh
# Refuse to run as root; then run the given command, or `python -m services.$CAMPAIGN_SERVICE <args>`
# when the arguments are only a service command (web, consumer, relay, scheduler, deliverer, ...).
set -eu
if [ "$(id -u)" = "0" ]; then
    echo "entrypoint: refusing to run as root" >&2
    exit 1
fi
[ "$#" -gt 0 ] || set -- web
case "$1" in
    python|python3|sh|/*) exec "$@" ;;
    *) exec python -m "services.${CAMPAIGN_SERVICE}" "$@" ;;
esac
