#!/usr/bin/python3
"""Turns the JSON lines of a peer-benchmark run into a Markdown report (stdout).

Usage: report.py RESULTS.jsonl [--load-start "1.00 0.50 0.20"] [--load-end "..."] [--dotnet VERSION] [--fma-peak GFLOPS]
"""

import argparse
import json
import statistics
import os
import platform
import subprocess
import sys

FRAMEWORKS = [("numpy", "NumPy"), ("numpy-avx512", "NumPy AVX-512"), ("torch", "PyTorch"),
              ("torchsharp", "TorchSharp"), ("neuralnet", "NeuralNet")]
LABEL = dict(FRAMEWORKS)
NET_ORDER = "abcde"

# Multiply-accumulates per example of each network's layers, in order: (name, MACs). The first layer's input gradient
# is never computed (no framework computes the gradient with respect to the images).
LAYER_MACS = {
    "a": [("dense 784-64", 784 * 64), ("dense 64-10", 64 * 10)],
    "b": [("dense 784-400", 784 * 400), ("dense 400-100", 400 * 100), ("dense 100-25", 100 * 25), ("dense 25-10", 25 * 10)],
    "c": [("conv 1→6 5×5 @24²", 24 * 24 * 6 * 25), ("conv 6→16 5×5 @8²", 8 * 8 * 16 * 150), ("dense 256-120", 256 * 120),
          ("dense 120-84", 120 * 84), ("dense 84-10", 84 * 10)],
    "d": [("conv 1→8 3×3 @26²", 26 * 26 * 8 * 9), ("dense 1352-20", 1352 * 20), ("dense 20-10", 20 * 10)],
    "e": [("conv 1→24 5×5 @24²", 24 * 24 * 24 * 25), ("conv 24→48 3×3 @12²", 12 * 12 * 48 * 24 * 9),
          ("conv 48→96 3×3 @4²", 4 * 4 * 96 * 48 * 9), ("dense 1536-128", 1536 * 128), ("dense 128-10", 128 * 10)],
}
BATCH = {"a": 256, "b": 30, "c": 64, "d": 1, "e": 128}


def step_flops(net):
    """FLOPs of one training step: 2·B·(forward MACs + weight-gradient MACs + input-gradient MACs of layers 2…L)."""
    macs = [m for _, m in LAYER_MACS[net]]
    return 2 * BATCH[net] * (sum(macs) + sum(macs) + sum(macs[1:]))


def cpu_info():
    model, flags = "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1]
    except OSError:
        pass
    isa = "AVX-512" if " avx512f" in flags else ("AVX2" if " avx2" in flags else "no AVX2")
    return f"{model}, {os.cpu_count()} logical cores, {isa}"


def package_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True,
                              check=False).stdout.strip() or "not installed"
    except OSError:
        return "unknown"


def fmt_rate(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def fmt_ratio(v):
    return "n/a" if v is None else f"{v:.2f}×"


def med(values):
    return statistics.median(values) if values else None


def round_ratios(per_fw, rounds, peers):
    """NeuralNet / fastest peer in each round where NeuralNet and at least one peer have a result; and that peer."""
    ratios, best = [], []
    for i in range(rounds):
        nn = per_fw.get("neuralnet", [])
        nn = nn[i] if i < len(nn) else None
        cands = [(per_fw[p][i], p) for p in peers if i < len(per_fw.get(p, []))]
        if nn is not None and cands:
            v, p = max(cands)
            ratios.append(nn / v)
            best.append(p)
    return ratios, best


def fit_figures(rates):
    """(epoch 1, steady = median of the second half of the epochs, median of all epochs)."""
    if not rates:
        return None, None, None
    half = rates[len(rates) // 2:] if len(rates) > 1 else rates
    return rates[0], statistics.median(half), statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--load-start", default="")
    ap.add_argument("--load-end", default="")
    ap.add_argument("--dotnet", default="")
    ap.add_argument("--wall", default="", help="wall time of the run in seconds")
    ap.add_argument("--omp-wait-policy", default="", help="OMP_WAIT_POLICY the PyTorch process ran with")
    ap.add_argument("--fma-peak", default="", help="FMA peak of all THREADS cores running at once, GFLOP/s (fma-peak --threads THREADS)")
    ap.add_argument("--settings", default="", help="the run's settings (run.sh's environment variables), printed as given")
    args = ap.parse_args()

    train, fit, sgemm, info, errors, skips, fit_first = {}, {}, {}, {}, [], {}, {}
    round_peaks = {}  # "net a round 1" / "sgemm round 3" -> the FMA peak measured just before that round
    with open(args.results) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind, fw = r.get("kind"), r.get("framework")
            # Every measurement runs in rounds: the i-th record of a framework and network (or size) belongs to round i.
            if kind == "train":
                train.setdefault((r["net"], fw), []).append(r)
            elif kind == "fit" and r.get("jit_profile") == "recorded":
                fit_first[r["net"]] = r  # NeuralNet's first launch: it records the multicore-JIT profile
            elif kind == "fit":
                fit.setdefault((r["net"], fw), []).append(r)
            elif kind == "sgemm":
                sgemm.setdefault((int(r["n"]), fw), []).append(r)
            elif kind == "fma-peak":
                round_peaks[r["what"]] = float(r["gflops"])
            elif kind == "info":
                info.setdefault(fw, r)
            elif kind == "error":
                errors.append(r)
            elif kind == "skip":
                skips[(r["net"], fw)] = r.get("reason", "not run")

    present = {k[1] for k in list(train) + list(fit) + list(sgemm)}
    fws = [(fw, label) for fw, label in FRAMEWORKS if fw in present]
    peers = [fw for fw, _ in fws if fw != "neuralnet"]

    out = []
    w = out.append
    w("# NeuralNet vs its peers: NumPy, PyTorch, TorchSharp")
    w("")
    w(f"- Machine: {cpu_info()}, Linux {platform.release()}")
    threads = next((i.get("threads") for i in info.values() if i.get("threads")), "?")
    w(f"- Threads: {threads} for every framework (OpenBLAS/OpenMP thread count, torch.set_num_threads, "
      f"NeuralNetSettings.MaxDegreeOfParallelism)"
      + (f"; OMP_WAIT_POLICY {args.omp_wait_policy}" if args.omp_wait_policy else ""))
    data = next((i.get("data") for i in info.values() if i.get("data")), "?")
    w(f"- Data: {data} (the same batches, in the same order, for every framework in the raw-step runs)")
    versions = []
    if "numpy" in info or "numpy-avx512" in info:
        i = info.get("numpy") or info.get("numpy-avx512")
        versions.append(f"NumPy {i.get('numpy')} (Python {i.get('python')})")
    if "torch" in info:
        versions.append(f"PyTorch {info['torch'].get('torch')}")
    if "torchsharp" in info:
        versions.append(f"TorchSharp {info['torchsharp'].get('torchsharp')} (LibTorch 2.10 CPU, "
                        f"{info['torchsharp'].get('torch_threads')} threads)")
    versions.append(f"OpenBLAS (libopenblas0-pthread) {package_version('libopenblas0-pthread')}")
    if args.dotnet:
        versions.append(f".NET {args.dotnet}")
    w(f"- Versions: {', '.join(versions)}")
    # Which OpenBLAS kernels ran (threadpoolctl, inside each Python process) and the environment that chose them.
    if "numpy-avx512" not in info and "AVX-512" not in cpu_info():
        w("- NumPy with OpenBLAS's AVX-512 kernels: not run, this CPU has no AVX-512")
    if "neuralnet" in info and info["neuralnet"].get("tiered_compilation"):
        w(f"- NeuralNet's runtime: System.Runtime.TieredCompilation {info['neuralnet']['tiered_compilation']}"
          " (benchmarks/NeuralNet.Peers sets `<TieredCompilation>false</TieredCompilation>`, as samples/Mnist does)")
    for fw in ("numpy", "numpy-avx512", "torch"):
        if fw in info and info[fw].get("blas"):
            env = info[fw].get("openblas_env") or {}
            env_s = ", ".join(f"{k}={v}" for k, v in env.items()) or "no OPENBLAS_* variables"
            w(f"- BLAS of {LABEL[fw]}: {info[fw]['blas']} ({env_s})")
    if args.load_start or args.load_end:
        w(f"- Load average (1/5/15 min) at start: {args.load_start}; at end: {args.load_end}"
          f" (the benchmark itself accounts for about {threads}; more means other work shared the cores and the figures"
          " are noisy)")
    if args.settings:
        w(f"- Settings: `{args.settings}`")
    if args.wall:
        w(f"- Wall time of the whole run: {args.wall} s")
    w("")

    # ---- raw steps
    nets = sorted({k[0] for k in train}, key=lambda n: NET_ORDER.find(n))
    raw = {}
    if nets:
        w("## Training step throughput (samples/s; higher is better)")
        w("")
        net_rounds = max((len(v) for v in train.values()), default=0)
        w(f"One step = forward, softmax cross-entropy loss, backward, SGD update (lr 0.05; plain for a–d, momentum 0.9"
          f" for e, which also trains with batch statistics and dropout) on consecutive batches, after a warm-up. {net_rounds} round(s) per network, each running every framework in turn; each cell is the"
          " median over the rounds of each round's median run, and the ratio is the median of the per-round ratios"
          " NeuralNet / fastest peer (named).")
        w("")
        w("| Network | Batch | " + " | ".join(l for _, l in fws) + " | NeuralNet / best peer | rounds ahead |")
        w("|---|---:|" + "---:|" * len(fws) + "---:|---:|")
        for net in nets:
            per_fw = {fw: [r["samples_per_s"] for r in train.get((net, fw), [])] for fw, _ in fws}
            any_rec = next(recs[0] for (n, _), recs in train.items() if n == net)
            rates = {fw: med(v) for fw, v in per_fw.items()}
            raw[net] = rates
            ratios, best = round_ratios(per_fw, net_rounds, peers)
            best_name = LABEL[statistics.mode(best)] if best else ""
            ratio = f"{statistics.median(ratios):.2f}× ({best_name})" if ratios else "n/a"
            ahead = f"{sum(1 for x in ratios if x >= 1)} of {len(ratios)}" if ratios else "n/a"
            w(f"| {net}) {any_rec.get('title', net)} | {any_rec['batch']} | "
              + " | ".join(fmt_rate(rates[fw]) for fw, _ in fws) + f" | {ratio} | {ahead} |")
        w("")

    # ---- the user's path
    fit_nets = sorted({k[0] for k in fit}, key=lambda n: NET_ORDER.find(n))
    if fit_nets:
        w("## The user's path: epochs of an ordinary training loop (samples/s; higher is better)")
        w("")
        fit_rounds = max((len(v) for v in fit.values()), default=0)
        w("Each framework's ordinary epoch loop from a cold process, every epoch timed: a new random permutation per"
          " epoch, batches gathered by it (NumPy fancy indexing; PyTorch and TorchSharp randperm + index_select;"
          " NeuralNet `Trainer.Fit`, whose epochs also check the outputs for NaN, count correct rows and record a"
          " history entry per step), the step, and the epoch's loss and accuracy. **Epoch 1** includes the JIT's warm-up"
          " (and Fit's checks of the data); **steady** is the median of the second half of the epochs; **median** is"
          " over all epochs (the target figure); **raw step** is the warmed-up step of the table above."
          + (f" {fit_rounds} rounds, each running every framework in turn; each figure is the median over the rounds"
             " of that figure, and the ratios below compare those medians." if fit_rounds > 1 else "")
          + (" NeuralNet runs with multicore JIT (`System.Runtime.ProfileOptimization`): its **first launch** for a"
             " network records which methods the JIT compiled, and the NeuralNet rows replay that profile, compiling"
             " those methods on a background thread from the process's start (while it loads the data) instead of on"
             " the training thread in epoch 1." if fit_first else ""))
        w("")
        w("| Network | Examples/epoch × epochs | Framework | Epoch 1 | Steady | Median | Epoch 1 / steady | Raw step |")
        w("|---|---:|---|---:|---:|---:|---:|---:|")
        summary = []
        for net in fit_nets:
            meds = {}
            for fw, label in fws:
                recs = fit.get((net, fw), [])
                if not recs:
                    continue
                # Over FIT_ROUNDS rounds: the median of each figure.
                figs = [fit_figures(r["epoch_samples_per_s"]) for r in recs]
                e1 = med([f[0] for f in figs])
                st = med([f[1] for f in figs])
                md = med([f[2] for f in figs])
                meds[fw] = (e1, st, md)
                r0 = recs[0]
                w(f"| {net}) {r0['title']} | {r0['examples']} × {r0['epochs']} | {label} | {fmt_rate(e1)} | {fmt_rate(st)} |"
                  f" {fmt_rate(md)} | {e1 / st:.2f} | {fmt_rate(raw.get(net, {}).get(fw))} |")
                if fw == "neuralnet" and net in fit_first:
                    f1 = fit_figures(fit_first[net]["epoch_samples_per_s"])
                    meds["neuralnet-first"] = f1
                    w(f"| {net}) {r0['title']} | {r0['examples']} × {len(fit_first[net]['epoch_samples_per_s'])} |"
                      f" NeuralNet, first launch | {fmt_rate(f1[0])} | {fmt_rate(f1[1])} | {fmt_rate(f1[2])} |"
                      f" {f1[0] / f1[1]:.2f} | {fmt_rate(raw.get(net, {}).get(fw))} |")
            if "neuralnet" in meds:
                cands = [(meds[p][2], p) for p in peers if p in meds]
                if cands:
                    v, p = max(cands)
                    e1p = max(meds[q][0] for q in peers if q in meds)
                    summary.append((net, meds["neuralnet"], v, p, e1p, meds.get("neuralnet-first")))
        w("")
        if summary:
            w("| Network | NeuralNet median / fastest peer's median | NeuralNet epoch 1 / fastest peer's epoch 1 |"
              " NeuralNet epoch 1 / its steady state | the same, first launch |")
            w("|---|---:|---:|---:|---:|")
            for net, (e1, st, md), v, p, e1p, first in summary:
                w(f"| {net}) | {md / v:.2f}× ({LABEL[p]}) | {e1 / e1p:.2f}× | {e1 / st:.2f} |"
                  f" {'—' if first is None else f'{first[0] / first[1]:.2f}'} |")
            w("")

    # ---- SGEMM
    sizes = sorted({k[0] for k in sgemm})
    if sizes:
        w("## Square SGEMM, C = A·B, float32 (GFLOP/s = 2n³ / time; higher is better)")
        w("")
        rounds = max((len(v) for v in sgemm.values()), default=0)
        w(f"{rounds} rounds, each running every framework in turn (seconds apart); each cell is the median over the"
          " rounds of each round's median run, and the ratio is the median of the per-round ratios NeuralNet / fastest"
          " peer. NeuralNet is its internal `Kernels.Gemm`; TorchSharp and PyTorch `torch.mm`; NumPy `numpy.matmul`.")
        w("")
        w("| n | " + " | ".join(l for _, l in fws) + " | NeuralNet / best peer | rounds ahead |")
        w("|---:|" + "---:|" * len(fws) + "---:|---:|")
        for n in sizes:
            per_fw = {fw: [r["gflops"] for r in sgemm.get((n, fw), [])] for fw, _ in fws}
            g = {fw: med(v) for fw, v in per_fw.items()}
            ratios, best = round_ratios(per_fw, rounds, peers)
            best_name = LABEL[statistics.mode(best)] if best else ""
            ratio = f"{statistics.median(ratios):.2f}× ({best_name})" if ratios else "n/a"
            ahead = f"{sum(1 for x in ratios if x >= 1)} of {len(ratios)}" if ratios else "n/a"
            w(f"| {n} | " + " | ".join(fmt_rate(g[fw]) for fw, _ in fws) + f" | {ratio} | {ahead} |")
        w("")

    # ---- share of peak
    peak = float(args.fma_peak) if args.fma_peak else None
    if peak or round_peaks:
        def net_peak(net, i):
            return round_peaks.get(f"net {net} round {i + 1}", peak)

        def sgemm_peak(i):
            return round_peaks.get(f"sgemm round {i + 1}", peak)

        w("## Share of the FMA peak")
        w("")
        per_core = int(threads) if str(threads).isdigit() else 1
        tool = (f"`dotnet benchmarks/NeuralNet.Benchmarks/bin/Release/net10.0/NeuralNet.Benchmarks.dll fma-peak --threads {threads}`:"
                " one thread per core, all running together, each with independent FMA chains of the widest accelerated vector"
                " that fit in its registers; FLOPs per CPU-second of each thread × threads")
        if round_peaks:
            vals = sorted(round_peaks.values())
            w(f"Peak: measured again just before every raw-step and SGEMM round (3 runs of about a second, median; {tool}),"
              f" because the shared vCPUs' peak moves within minutes: **{statistics.median(vals):.1f} GFLOP/s** median on"
              f" {threads} threads at once ({statistics.median(vals) / per_core:.1f} per core), from {vals[0]:.1f} to"
              f" {vals[-1]:.1f} over {len(vals)} rounds" + (f"; {peak:.1f} at the start of the run" if peak else "") + "."
              " Each round's throughput is divided by the peak measured just before it; a cell is the median of those"
              " per-round shares (the GFLOP/s beside it: the median rate).")
        else:
            w(f"Peak: **{peak:.1f} GFLOP/s** on {threads} threads at once ({peak / per_core:.1f} per core; {tool}).")
        w("")
        w("Work per step: FLOPs = 2 · B · (Σ forward MACs + Σ weight-gradient MACs +"
          " Σ input-gradient MACs of layers 2…L), a layer's weight-gradient and input-gradient MACs each equal its"
          " forward MACs and the first layer computes no input gradient; biases, activations, batch normalization,"
          " pooling, loss and the update are not counted (d, batch 1, is left out: latency, not arithmetic). SGEMM: 2n³."
          " Share = FLOPs per step × steps/s / peak, from the raw-step and SGEMM tables above (wall time, so load from"
          " other processes lowers it).")
        w("")
        w("| Work | FLOPs per step | " + " | ".join(l for _, l in fws) + " |")
        w("|---|---:|" + "---:|" * len(fws))
        for net in ("a", "b", "c", "e"):
            if net not in raw:
                continue
            fl = step_flops(net)
            macs = " + ".join(f"{m:,}" for _, m in LAYER_MACS[net])
            title = next(recs[0]["title"] for (n, _), recs in train.items() if n == net)
            cells = []
            for fw, _ in fws:
                recs = train.get((net, fw), [])
                shares = [fl * rec["samples_per_s"] / BATCH[net] / 1e9 / net_peak(net, i) for i, rec in enumerate(recs)
                          if net_peak(net, i)]
                if not shares or raw[net].get(fw) is None:
                    cells.append("—")
                    continue
                g = fl * raw[net][fw] / BATCH[net] / 1e9
                cells.append(f"{statistics.median(shares) * 100:.1f}% ({g:.{0 if g >= 10 else 1}f} GFLOP/s)")
            w(f"| {net}) {title}; MACs/example by layer {macs} | {fl / 1e6:.1f} M | " + " | ".join(cells) + " |")
        if 1024 in sizes:
            cells = []
            for fw, _ in fws:
                recs = sgemm.get((1024, fw), [])
                shares = [rec["gflops"] / sgemm_peak(i) for i, rec in enumerate(recs) if sgemm_peak(i)]
                v = med([rec["gflops"] for rec in recs])
                cells.append("—" if v is None or not shares else f"{statistics.median(shares) * 100:.1f}% ({v:.{0 if v >= 10 else 1}f} GFLOP/s)")
            w(f"| SGEMM 1024² | {2 * 1024 ** 3 / 1e6:,.0f} M | " + " | ".join(cells) + " |")
        w("")

    # ---- details
    w("## Details")
    w("")
    if nets:
        w("Raw steps: timed steps per run × runs, the rate of every round, the best run, the spread of the runs"
          " ((max − min) / median), and the loss at the first warm-up step → the last step (a sanity check; the initial"
          " weights differ):")
        w("")
    for net in nets:
        parts = []
        for fw, label in fws:
            recs = train.get((net, fw), [])
            if not recs:
                parts.append(f"{label}: {skips.get((net, fw), 'no result')}")
                continue
            r = recs[0]
            runs = [v for rec in recs for v in (rec.get("all") or [rec["samples_per_s"]])]
            sp = (max(runs) - min(runs)) / statistics.median(runs) if len(runs) > 1 else None
            by_round = ", ".join(fmt_rate(rec["samples_per_s"]) for rec in recs)
            parts.append(f"{label}: {r['steps']}×{r['repeats']} per round, rounds {by_round}, best {fmt_rate(max(runs))}"
                         + (f", spread {sp * 100:.0f}%" if sp is not None else "")
                         + f", loss {r['loss_first']:.3f} → {r['loss_last']:.3f}")
        nn = train.get((net, "neuralnet"), [])
        allocs = [rec["alloc_bytes_per_step"] for rec in nn if rec.get("alloc_bytes_per_step") is not None]
        if allocs:
            parts.append(f"NeuralNet managed allocation {max(allocs):.0f} B/step")
        w(f"- {net}) " + "; ".join(parts))
    for net in fit_nets:
        parts = []
        for fw, label in fws:
            for rec in fit.get((net, fw), []):
                epochs = ", ".join(fmt_rate(v) for v in rec["epoch_samples_per_s"])
                extra = ""
                if rec.get("alloc_bytes_per_step") is not None:
                    extra = f", {rec['alloc_bytes_per_step']:.0f} B allocated per step after epoch 1"
                cpu = rec.get("epoch_cpu_seconds")
                if cpu and rec.get("raw_epoch_cpu_seconds") is not None:
                    steady_cpu = statistics.median(cpu[len(cpu) // 2:])
                    extra += (f"; CPU seconds per epoch {', '.join(f'{c:.3f}' for c in cpu)} (JIT in epoch 1:"
                              f" {rec['epoch_jit_seconds'][0]:.3f} s, Fit's data checks {rec['fit_setup_cpu_seconds']:.3f} CPU-s);"
                              f" the raw step over the same batches in order after Fit: {rec['raw_epoch_cpu_seconds']:.3f}"
                              f" CPU-s and {rec['raw_epoch_seconds']:.3f} s per epoch, so the trainer's own work is"
                              f" {(steady_cpu / rec['raw_epoch_cpu_seconds'] - 1) * 100:.0f}% of the steady epoch's CPU time")
                if rec.get("before_fit_seconds") is not None:
                    extra += (f"; before Fit (runtime start, data, model): {rec['before_fit_seconds']:.3f} s,"
                              f" {rec['before_fit_cpu_seconds']:.3f} CPU-s")
                    if rec.get("jit_profile") == "used":
                        extra += (f", of which {rec.get('jit_profile_init_seconds', 0):.3f} s the static constructors run"
                                  " before the profile starts; from the process's start to the end of epoch 1:"
                                  f" {rec['before_fit_seconds'] + rec['examples'] / rec['epoch_samples_per_s'][0]:.3f} s")
                parts.append(f"{label}: epochs {epochs}; loss {rec['loss_first_epoch']:.3f} → {rec['loss_last_epoch']:.3f}{extra}")
            if fw == "neuralnet" and net in fit_first:
                rec = fit_first[net]
                cpu = rec.get("epoch_cpu_seconds") or []
                parts.append(f"NeuralNet, first launch: epochs {', '.join(fmt_rate(v) for v in rec['epoch_samples_per_s'])};"
                             f" CPU seconds per epoch {', '.join(f'{c:.3f}' for c in cpu)} (JIT in epoch 1:"
                             f" {rec['epoch_jit_seconds'][0]:.3f} s); before Fit: {rec.get('before_fit_seconds', 0):.3f} s,"
                             f" {rec.get('before_fit_cpu_seconds', 0):.3f} CPU-s; from the process's start to the end of"
                             f" epoch 1: {rec.get('before_fit_seconds', 0) + rec['examples'] / rec['epoch_samples_per_s'][0]:.3f} s")
            if not fit.get((net, fw)) and (net, fw) in skips:
                parts.append(f"{label}: {skips[(net, fw)]}")
        w(f"- {net}) epoch loop: " + "; ".join(parts))
    sg_parts = []
    for n in sizes:
        cells = []
        for fw, label in fws:
            recs = sgemm.get((n, fw), [])
            if recs:
                per_round = ", ".join(f"{r['gflops']:.0f}" for r in recs)
                cells.append(f"{label} {recs[0]['calls']} calls×{recs[0]['repeats']} per round, rounds {per_round}")
        sg_parts.append(f"{n}: " + "; ".join(cells))
    if sg_parts:
        w("- SGEMM GFLOP/s by round: " + " | ".join(sg_parts))
    for e in errors:
        w(f"- ERROR {e.get('framework')} {e.get('what', '')}: {e.get('message', '')}")
    w("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
