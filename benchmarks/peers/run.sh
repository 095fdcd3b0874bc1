#!/usr/bin/env bash
# Side-by-side benchmark: trains the four reference networks (and times square SGEMM) in NumPy (OpenBLAS),
# PyTorch (CPU) and NeuralNet in one run, and prints a Markdown table, also saved to benchmarks/peers/results.md.
#
# Usage: benchmarks/peers/run.sh            (from anywhere; about 6-12 minutes)
# Settings (environment variables):
#   THREADS=2          threads for every framework
#   REPEATS=3          timed runs per network, framework and round; NET_ROUNDS=3 rounds (each runs the three
#                      frameworks in turn); the report compares NeuralNet with the faster peer round by round
#   STEPS=a=500,b=300,c=100,d=3000   timed steps per run, per network
#   BUDGET=30          seconds of timed runs per network, framework and round; a slower implementation times fewer steps
#   DATA=mnist         mnist (bundled data/mnist) or random (uniform noise of MNIST shape)
#   NETS=a,b,c,d       which networks (empty: none);  SGEMM=128,256,512,1024  which sizes (empty: none)
#   SGEMM_ROUNDS=7     SGEMM rounds (each runs the three frameworks in turn); SGEMM_REPEATS=3 timed runs per round
#   OMP_WAIT_POLICY=PASSIVE   for PyTorch's OpenMP pool; set it empty to keep libgomp's default (spinning), which
#                      is much slower for PyTorch when other processes share the cores (see docs/peers.md)
#   OUT=benchmarks/peers/results.md
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3   # the Debian interpreter: the Debian python3-numpy / python3-torch live there
THREADS="${THREADS:-2}"
REPEATS="${REPEATS:-3}"
NET_ROUNDS="${NET_ROUNDS:-3}"
STEPS="${STEPS:-a=500,b=300,c=100,d=3000}"
BUDGET="${BUDGET:-30}"
DATA="${DATA:-mnist}"
NETS="${NETS-a,b,c,d}"
SGEMM="${SGEMM-128,256,512,1024}"
SGEMM_ROUNDS="${SGEMM_ROUNDS:-7}"
SGEMM_REPEATS="${SGEMM_REPEATS:-3}"
OUT="${OUT:-$HERE/results.md}"
START=$(date +%s)

log() { printf '[peers] %s\n' "$*" >&2; }

# 1. Peers from Debian. libopenblas0-pthread matters: without it NumPy and PyTorch fall back to the reference BLAS.
PKGS=(python3-numpy python3-torch libopenblas0-pthread)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
fi
env -u OMP_WAIT_POLICY "$PY" -c "import numpy, torch" || { log "numpy/torch not importable by $PY"; exit 1; }

# 2. NeuralNet side, Release.
log "building benchmarks/NeuralNet.Peers (Release)"
dotnet build "$ROOT/benchmarks/NeuralNet.Peers/NeuralNet.Peers.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
DLL="$ROOT/benchmarks/NeuralNet.Peers/bin/Release/net10.0/NeuralNet.Peers.dll"
DOTNET_VERSION="$(dotnet --version 2>/dev/null || echo '?')"

# 3. Run. Each framework runs in its own process; the networks are interleaved (NumPy, PyTorch, NeuralNet for one
# network, then the next) so that a change in background load hits all three alike.
# OPENBLAS_NUM_THREADS/OMP_NUM_THREADS pin the thread count; OPENBLAS_CORETYPE is left alone (OpenBLAS picks its
# kernels for this CPU itself).
export OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
# PyTorch's OpenMP workers spin after each parallel region by default; on a shared machine a spinning worker holds a
# core the other one needs and PyTorch slows down many times over. PASSIVE (sleep at once) is the kinder default here;
# NumPy (OpenBLAS pthreads) and NeuralNet do not read it.
OMP_WAIT_POLICY="${OMP_WAIT_POLICY-PASSIVE}"
if [ -n "$OMP_WAIT_POLICY" ]; then export OMP_WAIT_POLICY; else unset OMP_WAIT_POLICY; fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
RESULTS="$TMP/results.jsonl"
: > "$RESULTS"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
COMMON_PY=(--steps "$STEPS" --repeats "$REPEATS" --budget "$BUDGET" --threads "$THREADS" --data "$DATA" --mnist-dir "$ROOT/data/mnist")
COMMON_NN=(--steps "$STEPS" --repeats "$REPEATS" --budget "$BUDGET" --threads "$THREADS" --data "$DATA" --mnist-dir "$ROOT/data/mnist")

run() { # run LABEL WHAT CMD...: appends the JSON lines of CMD to the results; a failure is recorded, not fatal
  local label="$1" what="$2"; shift 2
  log "$label $what"
  if ! "$@" >> "$RESULTS" 2> "$TMP/err"; then
    local msg; msg="$(tail -n 3 "$TMP/err" | tr '\n"\\' "  /")"
    printf '{"framework": "%s", "kind": "error", "what": "%s", "message": "%s"}\n' "$label" "$what" "$msg" >> "$RESULTS"
    log "$label $what FAILED: $msg"
  fi
}

IFS=',' read -r -a NET_LIST <<< "$NETS"
# Each network runs in NET_ROUNDS rounds of NumPy, PyTorch and NeuralNet in turn (each process warms up, then times
# REPEATS runs), so the three are measured within a minute of each other and the report compares per-round ratios.
for net in "${NET_LIST[@]}"; do
  for round in $(seq 1 "$NET_ROUNDS"); do
    run numpy "net $net round $round" "$PY" "$HERE/peers.py" --framework numpy --nets "$net" --sgemm "" "${COMMON_PY[@]}"
    run torch "net $net round $round" "$PY" "$HERE/peers.py" --framework torch --nets "$net" --sgemm "" "${COMMON_PY[@]}"
    run neuralnet "net $net round $round" dotnet "$DLL" train --net "$net" "${COMMON_NN[@]}"
  done
done
# SGEMM runs in rounds (NumPy, PyTorch, NeuralNet, SGEMM_REPEATS timed runs each, then again): a few seconds per round,
# so that the load of the moment hits all three alike; the report gives the median over rounds and the ratio per round.
if [ -n "$SGEMM" ]; then
  for round in $(seq 1 "$SGEMM_ROUNDS"); do
    SG_PY=(--repeats "$SGEMM_REPEATS" --budget "$BUDGET" --threads "$THREADS" --data "$DATA" --mnist-dir "$ROOT/data/mnist")
    run numpy "sgemm round $round" "$PY" "$HERE/peers.py" --framework numpy --nets "" --sgemm "$SGEMM" "${SG_PY[@]}"
    run torch "sgemm round $round" "$PY" "$HERE/peers.py" --framework torch --nets "" --sgemm "$SGEMM" "${SG_PY[@]}"
    run neuralnet "sgemm round $round" dotnet "$DLL" sgemm --sizes "$SGEMM" --repeats "$SGEMM_REPEATS" --budget "$BUDGET" \
      --threads "$THREADS"
  done
fi
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# 4. Report.
"$PY" "$HERE/report.py" "$RESULTS" --load-start "$LOAD_START" --load-end "$LOAD_END" --dotnet "$DOTNET_VERSION" \
  --omp-wait-policy "${OMP_WAIT_POLICY:-default}" \
  --wall "$(( $(date +%s) - START ))" > "$OUT"
cp "$RESULTS" "${OUT%.md}.jsonl"
cat "$OUT"
