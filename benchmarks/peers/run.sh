#!/usr/bin/env bash
# Side-by-side benchmark: trains the four reference networks and the modern CNN (and times square SGEMM) in NumPy (OpenBLAS, as
# configured and with its AVX-512 kernels), PyTorch (CPU), TorchSharp (LibTorch, CPU) and NeuralNet in one run, times
# each one's ordinary epoch loop (NeuralNet: Trainer.Fit) epoch by epoch, relates the step work to the measured FMA
# peak, and prints Markdown tables, also saved to benchmarks/peers/results.md (see docs/peers.md).
#
# Usage: benchmarks/peers/run.sh            (from anywhere; about 15-25 minutes)
# Settings (environment variables):
#   THREADS=2          threads for every framework
#   FRAMEWORKS=numpy,numpy-avx512,torch,torchsharp,neuralnet   which ones run (numpy-avx512 only on an AVX-512 CPU)
#   FIT_NETS=a,b,c,d,e networks of the epoch-loop comparison (empty: none); FIT_ROUNDS=3; EPOCHS=8
#   EXAMPLES=a=60000,b=15000,c=6400,d=3000,e=6400   training examples per epoch there
#   NUMPY_AVX512_CORETYPE=SkylakeX   OPENBLAS_CORETYPE of the numpy-avx512 run (empty: only unset it and OPENBLAS_L2_SIZE)
#   JIT_PROFILE=1      NeuralNet's epoch loop with multicore JIT: a first launch per network records the profile (reported
#                      as NeuralNet's first launch), the timed runs replay it (0: no profile, every run a first launch)
#   PEAK=1             measure the FMA peak of THREADS cores at once (benchmarks/NeuralNet.Benchmarks fma-peak) for the
#                      share-of-peak table: at the start, and again (3 runs of about a second) before every raw-step and
#                      SGEMM round, so that each round's share is taken against the peak of that moment
#   REPEATS=3          timed runs per network, framework and round; NET_ROUNDS=3 rounds (each runs every
#                      framework in turn); the report compares NeuralNet with the fastest peer round by round
#   STEPS=a=500,b=300,c=100,d=3000,e=60   timed steps per run, per network
#   BUDGET=30          seconds of timed runs per network, framework and round; a slower implementation times fewer steps
#   DATA=mnist         mnist (bundled data/mnist) or random (uniform noise of MNIST shape)
#   NETS=a,b,c,d,e     which networks (empty: none; e is the modern CNN, which NumPy skips)
#   SGEMM=128,256,512,1024  which sizes (empty: none)
#   SGEMM_ROUNDS=7     SGEMM rounds (each runs every framework in turn); SGEMM_REPEATS=3 timed runs per round
#   OMP_WAIT_POLICY=PASSIVE   for the OpenMP pools of PyTorch and TorchSharp; set it empty to keep libgomp's default (spinning), which
#                      is much slower for PyTorch when other processes share the cores (see docs/peers.md)
#   OUT=benchmarks/peers/results.md
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3   # the Debian interpreter: the Debian python3-numpy / python3-torch live there
THREADS="${THREADS:-2}"
REPEATS="${REPEATS:-3}"
NET_ROUNDS="${NET_ROUNDS:-3}"
STEPS="${STEPS:-a=500,b=300,c=100,d=3000,e=60}"
BUDGET="${BUDGET:-30}"
DATA="${DATA:-mnist}"
NETS="${NETS-a,b,c,d,e}"
SGEMM="${SGEMM-128,256,512,1024}"
SGEMM_ROUNDS="${SGEMM_ROUNDS:-7}"
SGEMM_REPEATS="${SGEMM_REPEATS:-3}"
OUT="${OUT:-$HERE/results.md}"
START=$(date +%s)

FRAMEWORKS="${FRAMEWORKS:-numpy,numpy-avx512,torch,torchsharp,neuralnet}"
FIT_NETS="${FIT_NETS-a,b,c,d,e}"
FIT_ROUNDS="${FIT_ROUNDS:-3}"
EPOCHS="${EPOCHS:-8}"
EXAMPLES="${EXAMPLES:-a=60000,b=15000,c=6400,d=3000,e=6400}"
PEAK="${PEAK:-1}"
JIT_PROFILE="${JIT_PROFILE:-1}"
log() { printf '[peers] %s\n' "$*" >&2; }
has() { [[ ",$FRAMEWORKS," == *",$1,"* ]]; }
# OpenBLAS's AVX-512 kernels exist only on an AVX-512 CPU (elsewhere they would stop NumPy with an illegal instruction).
if has numpy-avx512 && ! grep -qw avx512f /proc/cpuinfo; then
  log "no AVX-512 on this CPU: NumPy runs with the kernels OpenBLAS picks only"
  FRAMEWORKS="${FRAMEWORKS//numpy-avx512/}"
fi

# 1. Peers from Debian. libopenblas0-pthread matters: without it NumPy and PyTorch fall back to the reference BLAS;
# threadpoolctl reports which OpenBLAS kernels run.
PKGS=(python3-numpy python3-torch libopenblas0-pthread python3-threadpoolctl)
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

# 3. TorchSharp side: its own project, outside NeuralNet.sln (LibTorch is ~600 MB; the test command must not restore it).
# TorchSharp-cpu 0.107's native wrapper needs a newer libstdc++ than Debian 12's; the workspace's shared tool patches
# the build output (idempotent) when the wrapper does not resolve here.
if has torchsharp; then
  TS_DIR="$ROOT/benchmarks/TorchSharpPeer"
  TS_OUT="$TS_DIR/bin/Release/net10.0"
  log "building benchmarks/TorchSharpPeer (Release; the first build restores TorchSharp-cpu 0.107.0, ~600 MB)"
  dotnet build "$TS_DIR/TorchSharpPeer.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
  TS_DLL="$TS_OUT/TorchSharpPeer.dll"
  TS_NATIVE="$TS_OUT/runtimes/linux-x64/native/libLibTorchSharp.so"
  if ldd "$TS_NATIVE" 2>&1 | grep -q 'not found'; then
    FIX="$(cd "$ROOT/.." && pwd)/shared/tools/torchsharp-native-fix.sh"
    if [ ! -f "$FIX" ]; then
      log "TorchSharp's native wrapper does not load here ($(ldd "$TS_NATIVE" 2>&1 | grep -m1 'not found' | xargs)),"
      log "and the fix $FIX is missing: the repository's parent folder must hold shared/ (the workspace's shared files)."
      log "Run with FRAMEWORKS=numpy,numpy-avx512,torch,neuralnet to leave TorchSharp out."
      exit 1
    fi
    log "patching TorchSharp's native wrapper with $FIX"
    bash "$FIX" "$TS_OUT" >&2
  fi
fi

# 4. The FMA peak of THREADS cores running at once (FLOPs per CPU-second of each thread × THREADS, so other load does
# not lower it), for the share-of-peak table.
# fma_peak [fma-peak options]: the peak's median in GFLOP/s, or nothing when it was not measured.
fma_peak() {
  dotnet "$ROOT/benchmarks/NeuralNet.Benchmarks/bin/Release/net10.0/NeuralNet.Benchmarks.dll" fma-peak --threads "$THREADS" "$@" \
    | sed -n 's/^RESULT fma-peak .*gflops_all_threads_median=\([0-9.]*\).*/\1/p'
}
PEAK_GFLOPS=""
if [ "$PEAK" = 1 ]; then
  log "measuring the FMA peak on $THREADS threads at once (benchmarks/NeuralNet.Benchmarks fma-peak)"
  dotnet build "$ROOT/benchmarks/NeuralNet.Benchmarks/NeuralNet.Benchmarks.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
  PEAK_GFLOPS="$(fma_peak)"
  log "FMA peak: ${PEAK_GFLOPS:-not measured} GFLOP/s on $THREADS threads"
fi
# The shared vCPUs' peak moves by 10-15 % within minutes (other tenants, clocks): peak_round WHAT measures it again just
# before a round (median of 3 runs of about a second) and records it beside that round's results.
peak_round() {
  [ "$PEAK" = 1 ] || return 0
  local g
  g="$(fma_peak --rounds 3)"
  [ -n "$g" ] && printf '{"framework": "machine", "kind": "fma-peak", "what": "%s", "gflops": %s}\n' "$1" "$g" >> "$RESULTS"
  return 0
}

# 5. Run. Each framework runs in its own process; the networks are interleaved (NumPy, PyTorch, NeuralNet for one
# network, then the next) so that a change in background load hits all of them alike.
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
# NumPy with OpenBLAS's AVX-512 kernels, in that one command only: OPENBLAS_L2_SIZE and a configured OPENBLAS_CORETYPE
# are dropped and SkylakeX (OpenBLAS 0.3.21's AVX-512 kernels; it maps Zen 4/5 to its AVX2 Zen kernels on its own) is
# asked for. threadpoolctl's report of the kernels that ran goes into the results.
# NUMPY_AVX512_CORETYPE (default SkylakeX) names the kernels; set it empty to only unset the two variables and let
# OpenBLAS choose.
NUMPY_AVX512_CORETYPE="${NUMPY_AVX512_CORETYPE-SkylakeX}"
if [ -n "$NUMPY_AVX512_CORETYPE" ]; then
  NUMPY_AVX512=(env -u OPENBLAS_L2_SIZE -u OPENBLAS_CORETYPE OPENBLAS_CORETYPE="$NUMPY_AVX512_CORETYPE")
else
  NUMPY_AVX512=(env -u OPENBLAS_L2_SIZE -u OPENBLAS_CORETYPE)
fi
NUMPY_AVX512+=("$PY" "$HERE/peers.py" --framework numpy --label numpy-avx512)


run() { # run LABEL WHAT CMD...: appends the JSON lines of CMD to the results; a failure is recorded, not fatal
  local label="$1" what="$2"; shift 2
  log "$label $what"
  if ! "$@" >> "$RESULTS" 2> "$TMP/err"; then
    local msg; msg="$(tail -n 3 "$TMP/err" | tr '\n"\\' "  /")"
    printf '{"framework": "%s", "kind": "error", "what": "%s", "message": "%s"}\n' "$label" "$what" "$msg" >> "$RESULTS"
    log "$label $what FAILED: $msg"
  fi
}

# One framework, one process: run_fw FRAMEWORK WHAT PY_ARGS -- DOTNET_ARGS (the Python side gets PY_ARGS, the two .NET
# sides get DOTNET_ARGS).
run_fw() {
  local fw="$1" what="$2"; shift 2
  local py_args=() net_args=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do py_args+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift
  net_args=("$@")
  case "$fw" in
    numpy) run numpy "$what" "$PY" "$HERE/peers.py" --framework numpy "${py_args[@]}" ;;
    numpy-avx512) run numpy-avx512 "$what" "${NUMPY_AVX512[@]}" "${py_args[@]}" ;;
    torch) run torch "$what" "$PY" "$HERE/peers.py" --framework torch "${py_args[@]}" ;;
    torchsharp) run torchsharp "$what" dotnet "$TS_DLL" "${net_args[@]}" ;;
    neuralnet) run neuralnet "$what" dotnet "$DLL" "${net_args[@]}" ;;
  esac
}
IFS=',' read -r -a FW_LIST <<< "$FRAMEWORKS"

IFS=',' read -r -a NET_LIST <<< "$NETS"
# Raw steps: each network runs in NET_ROUNDS rounds of every framework in turn (each process warms up, then times
# REPEATS runs), so they are measured within a minute or two of each other and the report compares per-round ratios.
for net in "${NET_LIST[@]}"; do
  for round in $(seq 1 "$NET_ROUNDS"); do
    peak_round "net $net round $round"
    for fw in "${FW_LIST[@]}"; do
      [ -n "$fw" ] || continue
      run_fw "$fw" "net $net round $round" --nets "$net" --sgemm "" "${COMMON_PY[@]}" -- train --net "$net" "${COMMON_NN[@]}"
    done
  done
done
# The user's path: each framework's ordinary epoch loop (NeuralNet: Trainer.Fit), EPOCHS epochs from a cold process,
# every epoch timed; FIT_ROUNDS rounds of every framework in turn.
IFS=',' read -r -a FIT_LIST <<< "$FIT_NETS"
FIT_COMMON=(--epochs "$EPOCHS" --examples "$EXAMPLES" --threads "$THREADS" --data "$DATA" --mnist-dir "$ROOT/data/mnist")
# NeuralNet with multicore JIT (System.Runtime.ProfileOptimization): its first launch for a network records which methods
# the JIT compiled, and the timed runs replay that profile on a background thread while the process loads the data.
JIT_ARGS=()
if [ "$JIT_PROFILE" = 1 ]; then JIT_ARGS=(--jit-profile "$TMP/jit"); fi
for net in "${FIT_LIST[@]}"; do
  if [ "$JIT_PROFILE" = 1 ] && has neuralnet; then
    run neuralnet "fit $net first launch (records the JIT profile)" dotnet "$DLL" fit --net "$net" "${FIT_COMMON[@]}" "${JIT_ARGS[@]}"
  fi
  for round in $(seq 1 "$FIT_ROUNDS"); do
    for fw in "${FW_LIST[@]}"; do
      [ -n "$fw" ] || continue
      if [ "$fw" = neuralnet ]; then
        run_fw "$fw" "fit $net round $round" -- fit --net "$net" "${FIT_COMMON[@]}" "${JIT_ARGS[@]}"
      else
        run_fw "$fw" "fit $net round $round" --mode fit --nets "$net" --sgemm "" "${FIT_COMMON[@]}" -- fit --net "$net" "${FIT_COMMON[@]}"
      fi
    done
  done
done
# SGEMM runs in rounds (every framework, SGEMM_REPEATS timed runs each, then again): a few seconds per round, so that
# the load of the moment hits all alike; the report gives the median over rounds and the ratio per round.
if [ -n "$SGEMM" ]; then
  for round in $(seq 1 "$SGEMM_ROUNDS"); do
    peak_round "sgemm round $round"
    SG_PY=(--nets "" --sgemm "$SGEMM" --repeats "$SGEMM_REPEATS" --budget "$BUDGET" --threads "$THREADS")
    SG_NN=(sgemm --sizes "$SGEMM" --repeats "$SGEMM_REPEATS" --budget "$BUDGET" --threads "$THREADS")
    for fw in "${FW_LIST[@]}"; do
      [ -n "$fw" ] || continue
      run_fw "$fw" "sgemm round $round" "${SG_PY[@]}" -- "${SG_NN[@]}"
    done
  done
fi
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# 6. Report.
"$PY" "$HERE/report.py" "$RESULTS" --load-start "$LOAD_START" --load-end "$LOAD_END" --dotnet "$DOTNET_VERSION" \
  --omp-wait-policy "${OMP_WAIT_POLICY:-default}" --fma-peak "$PEAK_GFLOPS" \
  --settings "THREADS=$THREADS FRAMEWORKS=$FRAMEWORKS NETS=$NETS NET_ROUNDS=$NET_ROUNDS REPEATS=$REPEATS STEPS=$STEPS BUDGET=$BUDGET FIT_NETS=$FIT_NETS FIT_ROUNDS=$FIT_ROUNDS EPOCHS=$EPOCHS JIT_PROFILE=$JIT_PROFILE EXAMPLES=$EXAMPLES SGEMM=$SGEMM SGEMM_ROUNDS=$SGEMM_ROUNDS SGEMM_REPEATS=$SGEMM_REPEATS DATA=$DATA" \
  --wall "$(( $(date +%s) - START ))" > "$OUT"
cp "$RESULTS" "${OUT%.md}.jsonl"
cat "$OUT"
