# run NAME COMMAND...: the resumable step of the benchmark scripts (sourced, not run). Skipped when
# $OUT/NAME.done exists; output to $OUT/NAME.log; start/done times appended to $OUT/commands.txt.
run() {
  local name=$1; shift
  if [ -e "$OUT/$name.done" ]; then echo "skip $name"; return; fi
  echo "$(date -u +%FT%TZ) start $name: $*" | tee -a "$OUT/commands.txt"
  "$@" > "$OUT/$name.log" 2>&1
  touch "$OUT/$name.done"
  echo "$(date -u +%FT%TZ) done $name" | tee -a "$OUT/commands.txt"
}
