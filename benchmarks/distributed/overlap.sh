#!/usr/bin/env bash
# Step time with the gradient reduction after the backward pass and overlapped with it (GradientBucketReducer), per
# reference network, 2 and 3 ranks, on one host (shared memory) and on two network namespaces joined by a veth pair
# shaped to 1 and 10 Gbit/s (tests/scripts/two-hosts.sh, TCP only), plus the all-reduce sweeps the cost model is
# fitted to. As root. Output: benchmarks/distributed/results/{o,p}-<link>-<ranks>-<round>.md
#
#   overlap.sh [ROUNDS]       (default 2; the cost model merges rounds by the median)
set -uo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
W=tests/NeuralNet.Distributed.Worker/bin/Release/net10.0/NeuralNet.Distributed.Worker.dll
out=benchmarks/distributed/results
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
args="--threads 1 --iterations ${ITERATIONS:-30}"
for round in $(seq 1 "$rounds"); do
  for np in 2 3; do
    { uptime; mpirun --oversubscribe --bind-to none -np $np dotnet $W overlap $args --label shm; uptime; } > $out/o-shm-$np-$round.md 2>&1
    for rate in 1gbit 10gbit; do
      { uptime; tests/scripts/two-hosts.sh --rate $rate --np $np -- dotnet $W overlap $args --label $rate; uptime; } > $out/o-$rate-$np-$round.md 2>&1
      if [ "$round" = 1 ]; then
        { uptime; tests/scripts/two-hosts.sh --rate $rate --np $np -- dotnet $W sweep --threads 1 --iterations 100 \
            --sizes 2,256,4096,65536,262144,1048576,4194304 --label $rate; uptime; } > $out/p-$rate-$np.md 2>&1
      fi
    done
  done
done
