# supervise NAME COMMAND…: run it again whenever it exits, logging to /var/log/NAME.log
log() { echo "$(date +%T.%N | cut -c1-12) $*"; }
supervise() {
  local name=$1; shift
  while true; do
    log "starting $name"
    "$@" >>"/var/log/$name.log" 2>&1
    log "$name exited ($?)"
    sleep 1
  done
}
