#!/usr/bin/env bash
# One sample of a host's CPU and interrupt counters for `ixlab bench`, taken before and after each
# cell on the device-under-test host (ssh HOST bash -s < src/bench/proc-sample.sh). Reads only.
# Parsed by parseProcSample in src/bench/procstat.ts; the sections are its contract.
# Every thread's stat line is printed (grep -H prefixes the path, which carries the process id) so
# the vhost workers are found whether they are kthreads of their own (vhost-<qemu pid>, Linux < 6.4)
# or threads inside the qemu process (6.4 and later). A few milliseconds of CPU per sample.
set -u
echo "ixlab-procsample 1"
echo "clk_tck $(getconf CLK_TCK)"
echo "== uptime"
cat /proc/uptime
echo "== tasks"
grep -H '' /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null || true
echo "== stat"
cat /proc/stat
echo "== interrupts"
cat /proc/interrupts
echo "== kvm-exits"
cat /sys/kernel/debug/kvm/exits 2>/dev/null || true
echo "== end"
