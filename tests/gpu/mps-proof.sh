#!/usr/bin/env bash
# Proves, on a machine with a real NVIDIA GPU, what docs/gpu-sharing.md says MPS enforces for a GPU
# share: a client cannot allocate more device memory than the control daemon's pinned-memory limit
# (not even by raising CUDA_MPS_PINNED_DEVICE_MEM_LIMIT itself), and in EXCLUSIVE_PROCESS compute
# mode a process that ignores the MPS pipe directory gets no context of its own. It also shows the
# two limits of legacy MPS the docs name: the memory limit is per client process, and clients of
# another UID wait until the server's own clients are done.
#
# NOT run in CI and not by `make test`: it needs root, an NVIDIA GPU with its driver, nvidia-smi,
# nvidia-cuda-mps-control and nvcc (the CUDA toolkit). Run it by hand on a GPU machine:
#
#   sudo tests/gpu/mps-proof.sh [--gpu INDEX] [--limit-mib N] [--uid UID] [--uid2 UID]
#
# It changes the GPU's compute mode for the run and restores it, and stops the control daemon it
# started. The GPU must be idle (no other CUDA process). Exit 0 when every proof holds, 1 otherwise.
set -euo pipefail

gpu=0 limit_mib=2048 uid=65534 uid2=65533
while [ $# -gt 0 ]; do
    case "$1" in
        --gpu) gpu=$2; shift 2 ;;
        --limit-mib) limit_mib=$2; shift 2 ;;
        --uid) uid=$2; shift 2 ;;
        --uid2) uid2=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "mps-proof: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "mps-proof: run as root" >&2; exit 2; }
for c in nvidia-smi nvidia-cuda-mps-control nvcc setpriv; do
    command -v "$c" >/dev/null || { echo "mps-proof: $c is missing" >&2; exit 2; }
done

work=$(mktemp -d /tmp/mps-proof.XXXXXX)
chmod 0755 "$work"
uuid=$(nvidia-smi -i "$gpu" --query-gpu=uuid --format=csv,noheader)
old_mode=$(nvidia-smi -i "$gpu" --query-gpu=compute_mode --format=csv,noheader)
failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
note() { echo "NOTE: $*"; }

export CUDA_MPS_PIPE_DIRECTORY=$work/pipe CUDA_MPS_LOG_DIRECTORY=$work/log
mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
chmod 0755 "$CUDA_MPS_PIPE_DIRECTORY"

cleanup() {
    echo quit | nvidia-cuda-mps-control >/dev/null 2>&1 || true
    sleep 1
    case "$old_mode" in
        Default) nvidia-smi -i "$gpu" -c DEFAULT >/dev/null ;;
        Prohibited) nvidia-smi -i "$gpu" -c PROHIBITED >/dev/null ;;
        *) nvidia-smi -i "$gpu" -c EXCLUSIVE_PROCESS >/dev/null ;;
    esac
    rm -rf "$work"
}
trap cleanup EXIT

# The probe: creates a context, then allocates 64 MiB at a time until the driver refuses, and
# prints what it got ("ctx-failed <error>" when no context could be made). With a hold time it
# keeps its context that long afterwards.
cat > "$work/probe.cu" <<'CU'
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <cuda_runtime.h>
int main(int argc, char **argv) {
        int hold = argc > 1 ? atoi(argv[1]) : 0, sms = 0;
        size_t got = 0;
        cudaError_t e = cudaFree(0);
        if (e != cudaSuccess) {
                printf("ctx-failed %s\n", cudaGetErrorName(e));
                return 3;
        }
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
        for (;;) {
                void *p;
                if (cudaMalloc(&p, 64 << 20) != cudaSuccess)
                        break;
                got += 64;
        }
        printf("allocated-mib %zu sms %d\n", got, sms);
        fflush(stdout);
        sleep(hold);
        return 0;
}
CU
nvcc -o "$work/probe" "$work/probe.cu"
chmod 0755 "$work/probe"

as() { # as UID [ENV=VALUE...] -- probe args
    local u=$1; shift
    env "$@" setpriv --reuid="$u" --regid="$u" --clear-groups "$work/probe" ${PROBE_ARGS:-}
}

nvidia-smi -i "$gpu" -c EXCLUSIVE_PROCESS >/dev/null
CUDA_VISIBLE_DEVICES=$uuid nvidia-cuda-mps-control -d
ctl() { echo "$*" | nvidia-cuda-mps-control; }
ctl set_default_device_pinned_mem_limit 0 "${limit_mib}M"
ctl set_default_active_thread_percentage 25
# The server exists before any client: the one context EXCLUSIVE_PROCESS allows is the server's.
ctl start_server -uid "$uid" >/dev/null
sleep 2

# 1. The pinned memory limit holds for a client.
out=$(as "$uid" CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" || true)
got=$(awk '/allocated-mib/ {print $2}' <<<"$out")
if [ -n "$got" ] && [ "$got" -le "$limit_mib" ]; then
    pass "a client got $got MiB under a limit of $limit_mib MiB"
else
    fail "a client got '${got:-nothing}' under a limit of $limit_mib MiB ($out)"
fi
note "the client sees $(awk '/allocated-mib/ {print $4}' <<<"$out") SMs at an active thread percentage of 25"

# 2. The client's own variable cannot raise it.
out=$(as "$uid" CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="0=80G" \
      CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100 || true)
got=$(awk '/allocated-mib/ {print $2}' <<<"$out")
if [ -n "$got" ] && [ "$got" -le "$limit_mib" ]; then
    pass "a client asking for 80G itself still got $got MiB"
else
    fail "a client raising its own limit got '${got:-nothing}' MiB ($out)"
fi

# 3. Bypassing MPS: no pipe directory (the default /tmp/nvidia-mps has no daemon), so CUDA tries
# a context of its own, which EXCLUSIVE_PROCESS refuses while the server holds the GPU.
out=$(as "$uid" CUDA_MPS_PIPE_DIRECTORY=/nonexistent CUDA_VISIBLE_DEVICES="$uuid" || true)
if grep -q '^ctx-failed' <<<"$out"; then
    pass "a process bypassing MPS got no context ($out)"
else
    fail "a process bypassing MPS got a context: $out"
fi

# 4. Per process, not per container: two clients of one UID get the limit each.
PROBE_ARGS=15 as "$uid" CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" >"$work/a" &
a=$!
sleep 5
out=$(as "$uid" CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" || true)
wait "$a" || true
note "two clients of one UID got $(awk '/allocated-mib/ {print $2}' "$work/a") + $(awk '/allocated-mib/ {print $2}' <<<"$out") MiB: the limit is per client process (docs/gpu-sharing.md)"

# 5. Another UID waits while the server has clients: MPS serializes users.
PROBE_ARGS=20 as "$uid" CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" >"$work/a" &
a=$!
sleep 5
start=$(date +%s)
out=$(timeout 60 setpriv --reuid="$uid2" --regid="$uid2" --clear-groups env \
      CUDA_MPS_PIPE_DIRECTORY="$CUDA_MPS_PIPE_DIRECTORY" "$work/probe" || true)
waited=$(( $(date +%s) - start ))
wait "$a" || true
note "a client of UID $uid2 waited ${waited}s for UID $uid's client to finish ($out): one UID per GPU at a time"

echo
[ $failed = 0 ] && echo "mps-proof: every proof held on GPU $gpu ($uuid)" || echo "mps-proof: some proofs FAILED"
exit $failed
