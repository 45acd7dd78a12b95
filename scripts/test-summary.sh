#!/bin/sh
# Print one closing line for `make check` from the unit and integration logs, and fail if
# anything failed, was missing, or never ran.
#   usage: test-summary.sh UNIT_LOG BATS_TAP [FUZZ_LOG]
set -eu
unit_log=$1
tap=$2
fuzz_log=${3:-}

# cmocka: "[  PASSED  ] 42 test(s)." and "[  FAILED  ] 1 test(s), listed below:"
unit_pass=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$unit_log" | awk '{s+=$1} END {print s+0}')
unit_fail=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$unit_log" | awk '{s+=$1} END {print s+0}')
# a test binary that crashed (a sanitizer abort) prints no cmocka summary: count it too
crashed=$(grep -c '^unit-binary-failed: ' "$unit_log" || true)
if [ "$crashed" -gt "$unit_fail" ]; then
	unit_fail=$crashed
fi
# bats TAP: a plan "1..N", then "ok" / "not ok" lines; skips are "ok ... # skip"
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -n 1)
int_skip=$(grep -c '^ok .* # skip' "$tap" || true)
int_pass=$(($(grep -c '^ok ' "$tap" || true) - int_skip))
int_fail=$(grep -c '^not ok ' "$tap" || true)

passed=$((unit_pass + int_pass))
failed=$((unit_fail + int_fail))
# each fuzz target's bounded run counts as one test: it ends with "NAME: ok" or "FAILED"
fuzz_targets="fuzz_reader fuzz_wire"
if [ -n "$fuzz_log" ]; then
	for t in $fuzz_targets; do
		if grep -q "^$t: ok" "$fuzz_log"; then
			passed=$((passed + 1))
		else
			echo "check: the $t fuzz run failed or did not finish (see $fuzz_log)" >&2
			failed=$((failed + 1))
		fi
	done
fi
if [ -z "$plan" ] || [ $((int_pass + int_fail + int_skip)) -ne "$plan" ]; then
	echo "check: the integration run stopped early (plan ${plan:-missing})" >&2
	failed=$((failed + 1))
fi
if [ "$unit_pass" -eq 0 ] || [ "$int_pass" -eq 0 ]; then
	echo "check: a test suite ran no test" >&2
	failed=$((failed + 1))
fi
echo "check: $passed passed, $failed failed, $int_skip skipped"
[ "$failed" -eq 0 ]
