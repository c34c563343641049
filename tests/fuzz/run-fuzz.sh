#!/usr/bin/env bash
# Runs the libFuzzer harnesses (build/fuzz/<name>, made by `make fuzz-build`,
# which this calls first) one after the other, and ends with one line:
# "N passed, M failed".
#
#   tests/fuzz/run-fuzz.sh SECONDS [HARNESS...]
#       fuzz each for SECONDS (what `make fuzz FUZZ_SECONDS=N` runs)
#   tests/fuzz/run-fuzz.sh --replay SECONDS [HARNESS...]
#       first run each on its seeds alone, then fuzz it for SECONDS (the
#       fuzz suite of tests/run-tests.sh: two results per harness)
#
# Seeds come from tests/fuzz/corpus/<name>/ (read only); what a run finds
# goes to build/fuzz/corpus/<name>/, crashes to build/fuzz/crashes/<name>/.
set -u
cd "$(dirname "$0")/../.." || exit 2

replay=0
if [[ ${1:-} == --replay ]]; then replay=1; shift; fi
seconds=${1:-}
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: tests/fuzz/run-fuzz.sh [--replay] SECONDS [HARNESS...]" >&2
  exit 2
fi
shift
harnesses=("$@")
if [[ ${#harnesses[@]} -eq 0 ]]; then
  read -r -a harnesses <<<"$(make --no-print-directory -s -f Makefile print-fuzz-names)"
fi

if ! make --no-print-directory -s fuzz-build; then
  echo "fuzz: the harnesses do not build"
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
result() { # ok|fail text
  if [[ $1 == ok ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "fuzz: $2"
}

replay_seeds() { # harness
  local seeds=(tests/fuzz/corpus/"$1"/*) out
  if [[ ! -e ${seeds[0]} ]]; then
    result fail "$1: no seeds in tests/fuzz/corpus/$1/"
    return
  fi
  if out=$(build/fuzz/"$1" "${seeds[@]}" 2>&1); then
    result ok "$1: ${#seeds[@]} seeds replayed"
  else
    echo "$out" | tail -40
    result fail "$1: a seed fails (output above)"
  fi
}

fuzz_for() { # harness seconds
  local work=build/fuzz/corpus/$1 crashes=build/fuzz/crashes/$1/ out rc runs rate
  mkdir -p "$work" "$crashes"
  out=$(build/fuzz/"$1" -max_total_time="$2" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes" "$work" tests/fuzz/corpus/"$1" 2>&1)
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$out" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' <<<"$out" | tail -1)
  if [[ $rc -eq 0 ]]; then
    result ok "$1: ${runs:-?} runs in ${2} s (${rate:-?}/s), corpus $(ls "$work" | wc -l) files"
  else
    grep -v '^ *#[0-9]* 0x\|^INFO:\|^#[0-9]' <<<"$out" | tail -40
    result fail "$1: crashed after ${runs:-?} runs; the input is in $crashes (output above)"
  fi
}

for h in "${harnesses[@]}"; do
  if [[ ! -x build/fuzz/$h ]]; then
    result fail "$h: no harness build/fuzz/$h"
    continue
  fi
  [[ $replay -eq 1 ]] && replay_seeds "$h"
  [[ $seconds -gt 0 ]] && fuzz_for "$h" "$seconds"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
