#!/usr/bin/env bash
# Update mode at a million rows: an account holding ROWS users, and a file
# of ROWS rows of which half update existing users (one or two fields each)
# and half are new. Each step runs in a process of its own under
# /usr/bin/time; it prints the wall time and the peak memory of each.
#
#   scripts/bench-update.sh [DATABASE_URL]    (default: a new SQLite file)
#
# ROWS (default 1000000) sets the size; ROSTER the binary (default
# target/release/roster: build it with `cargo build --release -p roster-cli`).
# A PostgreSQL URL must name an empty database. The steps:
#
#   import-new      today's create import of ROWS new users (the baseline
#                   of apply-plan; it also fills the account)
#   validate-create today's validate of the update file: its existing rows
#                   are errors (email_taken, number_assigned, …)
#   validate-new    today's validate of a file of ROWS new users (clean)
#   plan            validate --mode upsert of the update file
#   apply-plan      import --mode upsert of the update file
set -euo pipefail

rows=${ROWS:-1000000}
roster=$(realpath "${ROSTER:-target/release/roster}")
half=$((rows / 2))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=${1:-sqlite://$dir/roster.db}
cd "$dir"

run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o time.txt "$roster" --db "$db" "$@" > "$name.out" 2> "$name.err" || true
  read -r seconds kib < <(tail -n 1 time.txt)
  printf '%-16s %8.1f s %8d MiB\n' "$name" "$seconds" "$((kib / 1024))"
}

# Users 0 … ROWS-1 exist; the update file is users ROWS/2 … ROWS*3/2-1:
# the first half of it changes existing users, the second half is new;
# the clean file of new users is users ROWS*3/2 … ROWS*5/2-1. The account
# parks the numbers of them all.
"$roster" generate --rows 1 --from "$((2 * rows + half - 1))" --csv last.csv \
  --account-file account.toml 2> /dev/null
"$roster" generate --rows "$rows" --csv existing.csv --account-file unused.toml 2> /dev/null
"$roster" generate --rows "$rows" --from "$half" --changed "$half" --csv update.csv \
  --account-file unused.toml 2> /dev/null
"$roster" generate --rows "$rows" --from "$((rows + half))" --csv new.csv \
  --account-file unused.toml 2> /dev/null
"$roster" --db "$db" account load account.toml > /dev/null

echo "rows $rows, $db"
run import-new import --account bench --passwords none existing.csv
run validate-create validate --account bench update.csv
run validate-new validate --account bench new.csv
run plan validate --account bench --mode upsert update.csv
run apply-plan import --account bench --mode upsert --passwords none update.csv
grep -h "^plan:\|^import .* completed" plan.out apply-plan.out || cat apply-plan.out apply-plan.err
