#!/bin/sh
# The redis image's entrypoint, as it behaves: options alone (or a .conf
# file) mean redis-server with them; redis-server started as root gets the
# data folder and drops to the redis user; without a configuration file,
# protected mode is off (the image builds redis so), so other Pods connect.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ] && [ "${2%.conf}" = "${2:-}" ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
