#!/usr/bin/env bash
# Runs every test suite: the unit tests and the interop test, first against
# the normal build, then against the ASan+UBSan build, then the server under
# valgrind for a short session. Ends with one line: "N passed, M failed".
set -u
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0
failed=0
skipped=0
failures=()
skips=()

record() { # suite-name passed failed
  passed=$((passed + $2))
  failed=$((failed + $3))
  [[ $3 -gt 0 ]] && failures+=("$1")
}

# A cmocka binary: counts come from its own summary lines. A binary that
# dies before printing them counts as one failure.
run_cmocka() {
  local name=$1 bin=$2 out rc p f
  echo "=== $name"
  out=$("$bin" 2>&1)
  rc=$?
  echo "$out"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
  p=${p:-0} f=${f:-0}
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  record "$name" "$p" "$f"
}

# A Python unittest run: counts from "Ran N tests" and "FAILED (...)".
run_unittest() {
  local name=$1 rc out ran f sk p
  shift
  echo "=== $name"
  out=$("$@" 2>&1)
  rc=$?
  echo "$out"
  ran=$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
  f=0
  for n in $(grep '^FAILED (' <<<"$out" | tail -1 | grep -o -E '(failures|errors)=[0-9]+' | cut -d= -f2); do
    f=$((f + n))
  done
  ran=${ran:-0}
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  # A skipped test (a missing tool, not root) is neither passed nor failed.
  sk=$(grep -E '^(OK|FAILED) \(' <<<"$out" | tail -1 | grep -o -E 'skipped=[0-9]+' | cut -d= -f2)
  sk=${sk:-0}
  skipped=$((skipped + sk))
  [[ $sk -gt 0 ]] && skips+=("$name: $sk")
  p=$((ran - f - sk))
  record "$name" $((p < 0 ? 0 : p)) "$f"
}

for build in build build/asan; do
  for bin in "$build"/tests/*/test_*; do
    run_cmocka "unit ${bin#"$build"/tests/} ($build)" "$bin"
  done
  OPAL_SERVER=$PWD/$build/opal-server \
    run_unittest "command line ($build)" $PY tests/interop/test_cli.py
  OPAL_SERVER=$PWD/$build/opal-server \
    run_unittest "interop ($build)" $PY tests/interop/test_interop.py
  OPAL_SERVER=$PWD/$build/opal-server OPAL_DEVICE=$PWD/$build/opal-device \
    run_unittest "loopback ($build)" $PY tests/loopback/test_loopback.py
  OPAL_DEVICE=$PWD/$build/opal-device \
    run_unittest "device against a foreign server ($build)" $PY tests/loopback/test_foreign_server.py
  OPAL_SERVER=$PWD/$build/opal-server OPAL_DEVICE=$PWD/$build/opal-device \
    run_unittest "fleet of 50 ($build)" $PY tests/loopback/test_fleet.py
  OPAL_SERVER=$PWD/$build/opal-server OPAL_DEVICE=$PWD/$build/opal-device \
    run_unittest "tui in tmux ($build)" $PY tests/tui/test_tui.py
  OPAL_SERVER=$PWD/$build/opal-server OPAL_DEVICE=$PWD/$build/opal-device \
    run_unittest "tui over ssh ($build)" $PY tests/tui/test_ssh.py
  OPAL_PLAY_FILE=$PWD/$build/tests/audio/play_file \
    run_unittest "audio through PortAudio ($build)" $PY tests/audio/test_portaudio.py
done

# Valgrind on a normal run: play, stop, preempt, bad input, killed
# clients and SIGTERM; each server must exit 0 with no error and no leak.
OPAL_SERVER=$PWD/build/opal-server \
OPAL_SERVER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
  run_unittest "interop under valgrind (build)" $PY tests/interop/test_interop.py \
  AudioTests RobustnessTests ShutdownTests

# The device under valgrind: a full play/stop/preempt/natural-end session.
OPAL_SERVER=$PWD/build/opal-server OPAL_DEVICE=$PWD/build/opal-device \
OPAL_DEVICE_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
  run_unittest "loopback, device under valgrind (build)" $PY tests/loopback/test_loopback.py \
  LoopbackTests.test_mode_play_stop_preempt_natural_end

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
for s in "${skips[@]}"; do echo "skipped: $s"; done
[[ $skipped -gt 0 ]] && echo "$skipped skipped (see the suites' reasons above)"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
