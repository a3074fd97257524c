#!/usr/bin/env bash
# ThreadSanitizer runs of the concurrency tests, with an instrumented Rust std.
#
# Usage: scripts/tsan.sh            (from anywhere; runs in the repository root)
#
# Needs the nightly toolchain with rust-src (`rustup component add rust-src
# --toolchain nightly`, for -Zbuild-std) and gcc. Not part of .ci/run: CI
# does not guarantee either. Builds into target/tsan (override with
# TSAN_TARGET_DIR); the first build compiles std and every dependency with
# -Zsanitizer=thread and takes several minutes, later ones are incremental.
#
# Runs, each with the library's CPU-kernel worker threads on (option
# `threads` = 0, one per core; KERNEL_THREADS_ON overrides, e.g. 4 on a
# 2-core machine for more interleavings) and off (`threads` = 1):
#   tests/concurrency.rs           (cargo test --test concurrency)
#   tests/c/test_concurrency.c     (gcc -fsanitize=thread, linked against the
#                                   instrumented static library and LLVM's
#                                   TSan runtime from the nightly sysroot)
# and once tests/threads.rs, which itself switches between 1, 2, 3 and 7
# kernel threads.
#
# Prints one line per run (warnings, test result) and exits nonzero if any
# run printed a ThreadSanitizer warning or failed. Full logs are kept in
# $TSAN_TARGET_DIR/logs/.
set -euo pipefail

cd "$(dirname "$0")/.."
TRIPLE=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${TSAN_TARGET_DIR:-target/tsan}"
# Applies to std too (-Zbuild-std), so std's thread joins, parking, channels
# and atomics are seen by TSan. Build scripts and proc macros are host code,
# built without these flags because --target is given.
export RUSTFLAGS="-Zsanitizer=thread"
# Every report is printed (not only the first) and counted; the exit status
# of an instrumented program with reports is 66.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1 history_size=4}"
ON="${KERNEL_THREADS_ON:-0}"
LOGS="$CARGO_TARGET_DIR/logs"
CARGO=(cargo +nightly)
BUILD_STD=(-Zbuild-std --target "$TRIPLE")

mkdir -p "$LOGS"
echo "tsan: building (target dir $CARGO_TARGET_DIR)"
"${CARGO[@]}" test "${BUILD_STD[@]}" --test concurrency --test threads --no-run
"${CARGO[@]}" build "${BUILD_STD[@]}" --lib

T="$CARGO_TARGET_DIR/$TRIPLE/debug"
RT="$(rustc +nightly --print sysroot)/lib/rustlib/$TRIPLE/lib/librustc-nightly_rt.tsan.a"
# gcc instruments the C program's own accesses (its shared structs and
# atomics); its libtsan is not used because the Rust code calls entry points
# (__tsan_memcpy & co.) that only LLVM's runtime has, so that runtime is
# linked whole, and -rdynamic exports its interceptors.
gcc -std=c11 -g -O1 -pthread -fsanitize=thread -Iinclude -Itests/c \
    -c tests/c/test_concurrency.c -o "$T/test_concurrency_tsan.o"
gcc -pthread "$T/test_concurrency_tsan.o" \
    -Wl,--whole-archive "$RT" -Wl,--no-whole-archive -rdynamic \
    "$T/libhessfree.a" -lgcc_s -lutil -lrt -lm -ldl -o "$T/test_concurrency_tsan"

# Control: a C program with a deliberate data race, built and linked the same
# way, must give a report; otherwise the runtime is not active, or reports
# are not printed or not counted, and a clean result below would mean nothing.
cat >"$T/tsan_canary.c" <<'CANARY'
#include <pthread.h>
static int shared;
static void *bump(void *arg) { (void)arg; shared++; return NULL; }
int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
CANARY
gcc -g -pthread -fsanitize=thread -c "$T/tsan_canary.c" -o "$T/tsan_canary.o"
gcc -pthread "$T/tsan_canary.o" -Wl,--whole-archive "$RT" -Wl,--no-whole-archive \
    -rdynamic -lm -ldl -lrt -o "$T/tsan_canary"
set +e
"$T/tsan_canary" >"$LOGS/canary.log" 2>&1
canary_rc=$?
set -e
if ! grep -q '^WARNING: ThreadSanitizer: data race' "$LOGS/canary.log" || [ "$canary_rc" -ne 66 ]; then
    echo "tsan: the control race was not reported (exit $canary_rc, $LOGS/canary.log): TSan is not working"
    exit 2
fi
# The binaries under test must contain the runtime (i.e. were built with it).
for bin in "$T/test_concurrency_tsan" "$T"/deps/concurrency-* "$T"/deps/threads-*; do
    case $bin in *.d) continue ;; esac
    if ! nm "$bin" 2>/dev/null | grep ' __tsan_init$' >/dev/null; then
        echo "tsan: $bin is not instrumented"
        exit 2
    fi
done
echo "tsan: control race reported, binaries instrumented"

failed=0
# run NAME KERNEL_THREADS COMMAND...: runs COMMAND with
# HESSFREE_TEST_KERNEL_THREADS set (unset when empty), logs it, prints a line.
run() {
    local name=$1 threads=$2 log rc warnings start
    shift 2
    start=$SECONDS
    log="$LOGS/$(printf '%s' "$name" | tr -c 'A-Za-z0-9.=_-' '_').log"
    set +e
    if [ -n "$threads" ]; then
        HESSFREE_TEST_KERNEL_THREADS="$threads" "$@" >"$log" 2>&1
    else
        "$@" >"$log" 2>&1
    fi
    rc=$?
    set -e
    warnings=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
    printf 'tsan: %-38s %3d warning(s), exit %d, %3d s  (%s)\n' \
        "$name" "$warnings" "$rc" $((SECONDS - start)) "$log"
    if [ "$warnings" -ne 0 ] || [ "$rc" -ne 0 ]; then failed=1; fi
}

run "concurrency.rs kernel-threads=$ON" "$ON" \
    "${CARGO[@]}" test "${BUILD_STD[@]}" --test concurrency
run "concurrency.rs kernel-threads=1" 1 \
    "${CARGO[@]}" test "${BUILD_STD[@]}" --test concurrency
run "threads.rs (1,2,3,7 kernel threads)" "" \
    "${CARGO[@]}" test "${BUILD_STD[@]}" --test threads
run "test_concurrency.c kernel-threads=$ON" "$ON" "$T/test_concurrency_tsan"
run "test_concurrency.c kernel-threads=1" 1 "$T/test_concurrency_tsan"

if [ "$failed" -ne 0 ]; then
    echo "tsan: FAILED (see the logs above)"
    exit 1
fi
echo "tsan: all runs clean"
