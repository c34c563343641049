#!/usr/bin/env bash
# Runs the test suites: the unit tests, the Python suites against the normal
# build, then the same against the ASan+UBSan build (build/asan), then the
# README's quick start on a fresh clone, the programs under valgrind for
# a short session, the arm64 build under qemu and the fuzz harnesses briefly. Ends with one line:
# "N passed, M failed".
#
#   tests/run-tests.sh                 every suite (what make test runs)
#   tests/run-tests.sh SUITE...        only these suites (see --list)
#   tests/run-tests.sh --no-asan ...   skip the ASan+UBSan pass
#   tests/run-tests.sh --list          the suites' names, one a line
#   tests/run-tests.sh --check SUITE...  only check the names (exit 2 if one is unknown)
#
# The output of every suite that fails is kept in build/test-logs/<time>/,
# one file per failed suite; the folder is named before the last line.
set -u
cd "$(dirname "$0")/.." || exit 2

# name | what it runs (the order is the order they run in)
SUITES=(
  "unit|cmocka unit tests, build/tests/*/test_* (both builds)"
  "cli|the server's command line, tests/interop/test_cli.py (both builds)"
  "interop|the server against the exercise-like Python client, tests/interop/test_interop.py (both builds)"
  "packets|larger packets negotiated by opal-packet-ms, --packet-ms, tests/interop/test_packet_size.py (both builds)"
  "store|device modes kept across restarts: SQLite (SIGTERM, kill -9, default path) and a private redis-server (restart, outage), tests/store/ (both builds)"
  "workers|--workers K: 200 devices on 2 workers, hand-over between workers, SIGTERM, tests/workers/test_workers.py (both builds)"
  "tls|TLS and mutual TLS: certificates from scripts/opal-certs, identity from the certificate, bad certificates refused, SIGHUP renewal, tests/tls/ (both builds)"
  "health|the gRPC health service: Check, Watch, NOT_SERVING on SIGTERM and while Redis is away, --workers 2, TLS, tests/health/test_health.py (both builds)"
  "overload|past --max-streams or --max-pacing-lag-ms Play gets ack=false, the streams playing stay on time, no connection is lost, tests/overload/ (both builds)"
  "security|hostile clients: connection, stream and device bounds, framing errors, floods, each with a bystander device on time, tests/security/ (both builds)"
  "cluster|3 replicas on one Redis behind nginx (deploy/nginx/opal.conf): one connection per device, hand-over between replicas, kill -9, 300 devices, a fleet of 1000, tests/cluster/test_cluster.py (both builds)"
  "loopback|server and scripted devices, digests compared, tests/loopback/test_loopback.py (both builds)"
  "foreign|the device against a Python server, tests/loopback/test_foreign_server.py (both builds)"
  "fleet|a fleet of 50 devices, tests/loopback/test_fleet.py (both builds)"
  "large-packets|every mode in 60 ms packets (opusenc) and negotiated 120 ms packets: digests, RMS, 0 underruns, tests/loopback/test_large_packets.py (both builds)"
  "tui|--sim in tmux, tests/tui/test_tui.py (both builds)"
  "ssh|--sim over a real ssh, tests/tui/test_ssh.py (both builds)"
  "audio|PortAudio into a PulseAudio null sink, tests/audio/test_portaudio.py (both builds)"
  "metrics|--metrics: a session's counters scraped and checked by promtool, a real Prometheus scraping the endpoint, bad flags, tests/metrics/test_metrics.py (both builds)"
  "quickstart|the README's make run and opal-device --sim on a fresh clone, tests/quickstart/test_quickstart.py (normal build only)"
  "packaging|make install into a temp DESTDIR (file list, the installed server on its installed sounds), man pages, make deb (dpkg-deb, lintian) and systemd-analyze verify of the units, tests/packaging/test_packaging.py (normal build only)"
  "valgrind|server and device under valgrind (normal build only)"
  "arm64|the arm64 cross build (make ARCH=arm64) under qemu-aarch64: arm64 server and device, and the arm64 device with this machine's server, digests compared, tests/arm64/test_arm64.py (once)"
  "fuzz|libFuzzer harnesses: each replays its seeds, then fuzzes for FUZZ_TEST_SECONDS (3), tests/fuzz/run-fuzz.sh (clang build, build/fuzz)"
)
names=()
for s in "${SUITES[@]}"; do names+=("${s%%|*}"); done

usage() {
  echo "usage: tests/run-tests.sh [--no-asan] [SUITE...] | --list | --check SUITE..."
  echo "suites: ${names[*]}"
}

asan=1
check_only=0
wanted=()
for arg in "$@"; do
  case "$arg" in
  --no-asan) asan=0 ;;
  --list)
    for s in "${SUITES[@]}"; do printf '%-11s %s\n' "${s%%|*}" "${s#*|}"; done
    exit 0
    ;;
  --check) check_only=1 ;;
  -h | --help) usage; exit 0 ;;
  -*) echo "run-tests.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  *)
    if [[ " ${names[*]} " != *" $arg "* ]]; then
      echo "run-tests.sh: unknown suite '$arg'; the suites are: ${names[*]}" >&2
      exit 2
    fi
    wanted+=("$arg")
    ;;
  esac
done
[[ $check_only -eq 1 ]] && exit 0

# wants SUITE: true if SUITE was named, or if none was (everything runs).
wants() { [[ ${#wanted[@]} -eq 0 || " ${wanted[*]} " == *" $1 "* ]]; }

PY=/usr/bin/python3
# The programs read /etc/opal/*.conf when there is no --config: the tests
# point them at an empty folder instead, so that nothing installed on this
# machine changes what is tested (shared/config_file.h).
export OPAL_CONFIG_DIR=$PWD/build/test-config
mkdir -p "$OPAL_CONFIG_DIR"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0
failed=0
skipped=0
failures=()
skips=()
LOG_ROOT=build/test-logs
LOG_DIR=$LOG_ROOT/$(date +%Y%m%d-%H%M%S)
[[ -e $LOG_DIR ]] && LOG_DIR=$LOG_DIR-$$

# Each suite's time, for the list of the slowest at the end (the whole run
# should stay well under 20 minutes).
timings=()
suite_started=$SECONDS
begin() { # title
  echo "=== $1"
  suite_started=$SECONDS
}

record() { # title log-name output passed failed
  timings+=("$((SECONDS - suite_started)) s  $1")
  passed=$((passed + $4))
  failed=$((failed + $5))
  if [[ $5 -gt 0 ]]; then
    failures+=("$1")
    mkdir -p "$LOG_DIR"
    printf '%s\n' "=== $1" "$3" >"$LOG_DIR/$2.log"
  fi
}

# A cmocka binary: counts come from its own summary lines. A binary that
# dies before printing them counts as one failure.
run_cmocka() { # title log-name binary
  local title=$1 log=$2 bin=$3 out rc p f
  begin "$title"
  out=$("$bin" 2>&1)
  rc=$?
  echo "$out"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
  p=${p:-0} f=${f:-0}
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  record "$title" "$log" "$out" "$p" "$f"
}

# A runner that ends with its own "N passed, M failed" line (the fuzz
# harnesses). One that dies before printing it counts as one failure.
run_counted() { # title log-name command...
  local title=$1 log=$2 rc out p f
  shift 2
  begin "$title"
  out=$("$@" 2>&1)
  rc=$?
  echo "$out"
  p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<<"$out" | tail -1)
  f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<<"$out" | tail -1)
  p=${p:-0} f=${f:-0}
  [[ $rc -ne 0 && $f -eq 0 ]] && f=1
  record "$title" "$log" "$out" "$p" "$f"
}

# A Python unittest run: counts from "Ran N tests" and "FAILED (...)".
run_unittest() { # title log-name command...
  local title=$1 log=$2 rc out ran f sk p
  shift 2
  begin "$title"
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
  [[ $sk -gt 0 ]] && skips+=("$title: $sk")
  p=$((ran - f - sk))
  record "$title" "$log" "$out" $((p < 0 ? 0 : p)) "$f"
}

builds=(build)
[[ $asan -eq 1 ]] && builds+=(build/asan)

for build in "${builds[@]}"; do
  tag=""                      # log names: interop.log, interop-asan.log
  [[ $build == build/asan ]] && tag=-asan
  server=$PWD/$build/opal-server
  device=$PWD/$build/opal-device
  if wants unit; then
    bins=("$build"/tests/*/test_*)
    if [[ ! -e ${bins[0]} ]]; then
      echo "=== unit ($build): no unit test binaries in $build/tests (make all, make asan)"
      record "unit ($build)" "unit$tag" "no unit test binaries in $build/tests" 0 1
    fi
    for bin in "${bins[@]}"; do
      [[ -e $bin ]] || continue
      t=${bin#"$build"/tests/}
      run_cmocka "unit $t ($build)" "unit-${t//\//-}$tag" "$bin"
    done
  fi
  wants cli && OPAL_SERVER=$server \
    OPAL_DEVICE=$device run_unittest "command line ($build)" "cli$tag" $PY tests/interop/test_cli.py
  wants interop && OPAL_SERVER=$server \
    run_unittest "interop ($build)" "interop$tag" $PY tests/interop/test_interop.py
  wants packets && OPAL_SERVER=$server \
    run_unittest "packets ($build)" "packets$tag" $PY tests/interop/test_packet_size.py
  wants store && OPAL_SERVER=$server \
    run_unittest "store ($build)" "store$tag" $PY tests/store/test_store.py
  wants store && OPAL_SERVER=$server \
    run_unittest "store, Redis ($build)" "store-redis$tag" $PY tests/store/test_store_redis.py
  wants workers && OPAL_SERVER=$server \
    run_unittest "workers ($build)" "workers$tag" $PY tests/workers/test_workers.py
  wants tls && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "tls ($build)" "tls$tag" $PY -m unittest discover -s tests/tls -p 'test_*.py'
  wants health && OPAL_SERVER=$server \
    run_unittest "health ($build)" "health$tag" $PY tests/health/test_health.py
  wants overload && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "overload ($build)" "overload$tag" $PY tests/overload/test_overload.py
  wants security && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "security ($build)" "security$tag" $PY -m unittest discover -s tests/security -p 'test_*.py'
  wants cluster && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "cluster ($build)" "cluster$tag" $PY tests/cluster/test_cluster.py
  wants loopback && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "loopback ($build)" "loopback$tag" $PY tests/loopback/test_loopback.py
  wants foreign && OPAL_DEVICE=$device \
    run_unittest "device against a foreign server ($build)" "foreign$tag" $PY tests/loopback/test_foreign_server.py
  wants fleet && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "fleet of 50 ($build)" "fleet$tag" $PY tests/loopback/test_fleet.py
  wants large-packets && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "large packets ($build)" "large-packets$tag" $PY tests/loopback/test_large_packets.py
  wants tui && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "tui in tmux ($build)" "tui$tag" $PY tests/tui/test_tui.py
  wants ssh && OPAL_SERVER=$server OPAL_DEVICE=$device \
    run_unittest "tui over ssh ($build)" "ssh$tag" $PY tests/tui/test_ssh.py
  wants audio && OPAL_PLAY_FILE=$PWD/$build/tests/audio/play_file \
    run_unittest "audio through PortAudio ($build)" "audio$tag" $PY tests/audio/test_portaudio.py
  wants metrics && OPAL_SERVER=$server \
    run_unittest "metrics ($build)" "metrics$tag" $PY tests/metrics/test_metrics.py
done

# The README's quick start on a fresh clone of HEAD: make run (which builds
# its own copy), then build/opal-device --sim in tmux against it.
wants quickstart &&
  run_unittest "README quick start on a fresh clone" "quickstart" $PY tests/quickstart/test_quickstart.py

# make install, make deb and the units, from the normal build's programs.
wants packaging &&
  run_unittest "packaging: install, man pages, .deb, systemd units (build)" "packaging" $PY tests/packaging/test_packaging.py

if wants valgrind; then
  # Valgrind on a normal run: play, stop, preempt, bad input, killed
  # clients and SIGTERM; each server must exit 0 with no error and no leak.
  OPAL_SERVER=$PWD/build/opal-server \
  OPAL_SERVER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
    run_unittest "interop under valgrind (build)" "valgrind-interop" $PY tests/interop/test_interop.py \
    AudioTests RobustnessTests ShutdownTests

  # The device under valgrind: a full play/stop/preempt/natural-end session.
  OPAL_SERVER=$PWD/build/opal-server OPAL_DEVICE=$PWD/build/opal-device \
  OPAL_DEVICE_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
    run_unittest "loopback, device under valgrind (build)" "valgrind-loopback" $PY tests/loopback/test_loopback.py \
    LoopbackTests.test_mode_play_stop_preempt_natural_end

  # The metrics endpoint's thread scraped during a session, under valgrind.
  OPAL_SERVER=$PWD/build/opal-server \
  OPAL_SERVER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
    run_unittest "metrics under valgrind (build)" "valgrind-metrics" $PY tests/metrics/test_metrics.py SessionTests
fi

# The cross build (build/arm64) under qemu-aarch64, once: emulation is slow
# and the ASan build is not cross-built.
wants arm64 && OPAL_SERVER=$PWD/build/opal-server \
  run_unittest "arm64 under qemu-aarch64 (build/arm64)" "arm64" $PY tests/arm64/test_arm64.py

# Each harness on its seed corpus (the regression seeds among them), then
# a few seconds of fuzzing; two results per harness.
wants fuzz &&
  run_counted "fuzz harnesses (build/fuzz)" "fuzz" tests/fuzz/run-fuzz.sh --replay "${FUZZ_TEST_SECONDS:-3}"

echo
echo "slowest suites ($((SECONDS / 60)) min $((SECONDS % 60)) s in all):"
printf '%s\n' "${timings[@]}" | sort -rn | head -8 | sed 's/^/  /'
for f in "${failures[@]}"; do echo "FAILED: $f"; done
for s in "${skips[@]}"; do echo "skipped: $s"; done
[[ $skipped -gt 0 ]] && echo "$skipped skipped (see the suites' reasons above)"
[[ $failed -gt 0 ]] && echo "logs of the failed suites: $LOG_DIR/"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
