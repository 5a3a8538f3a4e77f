#!/bin/sh
# bench/mark.sh MODE PID: what the load generator runs (its -m option) at the start and the end
# of the measured window, while no message is in flight. BENCH_PHASE is "start" or "end".
#   MODE rusage:    the server (PID) reports its rusage on SIGUSR1 (bench_report.h, bench_common.py).
#   MODE callgrind: the server runs under callgrind; at the start switch instrumentation on and
#                   zero the counters, at the end dump them (callgrind_control talks to the
#                   process through vgdb, also while it waits in epoll_wait).
set -eu
mode=$1
pid=$2
case "$mode" in
rusage)
    kill -USR1 "$pid"
    sleep 0.1 # the handler runs at once; give a slow interpreter time all the same
    ;;
callgrind)
    if [ "$BENCH_PHASE" = start ]; then
        callgrind_control --instr=on "$pid" >/dev/null 2>&1
        callgrind_control --zero "$pid" >/dev/null 2>&1
    else
        callgrind_control --dump "$pid" >/dev/null 2>&1
    fi
    ;;
*)
    echo "mark.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
