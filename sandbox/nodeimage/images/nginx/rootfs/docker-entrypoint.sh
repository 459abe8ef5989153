#!/bin/sh
# The nginx image's entrypoint, as it behaves: when the command is nginx (or
# nginx-debug), run the executable *.sh scripts of /docker-entrypoint.d/ in
# order first, saying so unless NGINX_ENTRYPOINT_QUIET_LOGS is set; then run
# the command in its place.
set -e
say() { [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"; }
case "$1" in
  nginx|nginx-debug)
    scripts=$(find /docker-entrypoint.d/ -follow -type f 2>/dev/null | sort)
    if [ -n "$scripts" ]; then
      say "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
      say "Looking for shell scripts in /docker-entrypoint.d/"
      for f in $scripts; do
        case "$f" in
          *.sh) if [ -x "$f" ]; then say "Launching $f"; "$f"; else say "Ignoring $f, not executable"; fi ;;
          *) say "Ignoring $f" ;;
        esac
      done
      say "Configuration complete; ready for start up"
    else
      say "No files found in /docker-entrypoint.d/, skipping configuration"
    fi ;;
esac
exec "$@"
