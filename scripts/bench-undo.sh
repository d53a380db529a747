#!/usr/bin/env bash
# Undo at a million rows: a create import of ROWS new users, its undo, and
# the same file imported again (it imports whole only if the undo gave
# every number and extension back). Each step runs in a process of its own
# under /usr/bin/time; it prints the wall time and the peak memory of each.
#
#   scripts/bench-undo.sh [DATABASE_URL]    (default: a new SQLite file)
#
# ROWS (default 1000000) sets the size; ROSTER the binary (default
# target/release/roster: build it with `cargo build --release -p roster-cli`).
# A PostgreSQL URL must name an empty database. The steps:
#
#   import     a create import of ROWS users (the time the undo is held to)
#   undo       roster undo of that import
#   reimport   the same file imported again into the account as the undo left it
set -euo pipefail

rows=${ROWS:-1000000}
roster=$(realpath "${ROSTER:-target/release/roster}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=${1:-sqlite://$dir/roster.db}
cd "$dir"

run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o time.txt "$roster" --db "$db" "$@" > "$name.out" 2> "$name.err" || true
  read -r seconds kib < <(tail -n 1 time.txt)
  printf '%-10s %8.1f s %8d MiB\n' "$name" "$seconds" "$((kib / 1024))"
}

"$roster" generate --rows "$rows" --csv users.csv --account-file account.toml 2> /dev/null
"$roster" --db "$db" account load account.toml > /dev/null

echo "rows $rows, $db"
run import import --account bench --passwords none users.csv
id=$(grep -o '^import [0-9a-f-]* completed' import.out | cut -d' ' -f2)
run undo undo "$id"
run reimport import --account bench --passwords none users.csv
grep -h "^import .* completed\|^undo of import" import.out undo.out reimport.out \
  || cat import.out import.err undo.out undo.err reimport.out reimport.err
