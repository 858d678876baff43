#!/bin/sh
# Run every fuzz target of this package, one after another, for TIME each
# (a Go duration such as 30s or 10m, or an exec count such as 10000x).
#
#   fuzz/run.sh 30s            # what CI runs
#   fuzz/run.sh 10m -parallel=1
#
# Extra arguments are passed to go test. Stops at the first target that
# fails; the failing input is then under fuzz/testdata/fuzz/<Target>/.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 TIME [go test flags...]" >&2
	exit 2
fi
time=$1
shift

cd "$(dirname "$0")/.."

targets="FuzzDecodeMessage FuzzDecodeEntry FuzzDecodeHardState FuzzDecodeSnapshotMeta FuzzStep FuzzCluster"

# Every Fuzz function of the package must be listed above.
found=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' fuzz/*_test.go | sed 's/^func //' | sort)
listed=$(printf '%s\n' $targets | sort)
if [ "$found" != "$listed" ]; then
	echo "run.sh: the target list is out of date; found:" $found >&2
	exit 1
fi

# Count executions ourselves (see count_test.go): the engine's own figure
# misses the last stretch of every worker.
counts=${PURERAFT_FUZZ_COUNT:-$(mktemp)}
export PURERAFT_FUZZ_COUNT=$counts

summary=""
for t in $targets; do
	echo "=== $t ($time)"
	log=$(mktemp)
	start=$(date +%s)
	status=0
	# fuzzdebug makes the engine log its coverage bits; those lines go to
	# the log only.
	GODEBUG=fuzzdebug=1 go test ./fuzz -run='^$' -fuzz="^$t\$" -fuzztime="$time" "$@" 2>&1 |
		tee "$log" | grep -v ' DEBUG ' || true
	# The pipe hides go test's status; a failure prints FAIL.
	grep -q '^FAIL' "$log" && status=1
	secs=$(( $(date +%s) - start ))
	execs=$(awk -v t="$t" '$1 == t { if ($3 > m[$2]) m[$2] = $3 } END { s = 0; for (p in m) s += m[p]; print s }' "$counts")
	interesting=$(grep -o 'new interesting: [0-9]* (total: [0-9]*)' "$log" | tail -n 1)
	bits=$(grep -o 'initial coverage bits: [0-9]*\|total bits: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
	rm -f "$log"
	summary="$summary$(printf '%-24s %6ss %12s execs %8s/s  %5s coverage bits  %s' "$t" "$secs" "$execs" "$(( execs / (secs > 0 ? secs : 1) ))" "$bits" "$interesting")
"
	if [ $status -ne 0 ]; then
		printf '%s' "$summary"
		echo "run.sh: $t failed" >&2
		exit 1
	fi
done
printf '\n%s' "$summary"
