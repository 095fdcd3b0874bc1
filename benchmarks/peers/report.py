#!/usr/bin/python3
"""Turns the JSON lines of a peer-benchmark run into a Markdown report (stdout).

Usage: report.py RESULTS.jsonl [--load-start "1.00 0.50 0.20"] [--load-end "..."] [--dotnet VERSION]
"""

import argparse
import json
import statistics
import os
import platform
import subprocess
import sys
import time

FRAMEWORKS = [("numpy", "NumPy"), ("torch", "PyTorch"), ("neuralnet", "NeuralNet")]
PEERS = ("numpy", "torch")
NET_ORDER = "abcd"


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


def round_ratios(per_fw, rounds):
    """NeuralNet / faster peer in each round where NeuralNet and at least one peer have a result."""
    ratios = []
    for i in range(rounds):
        nn = per_fw["neuralnet"][i] if i < len(per_fw["neuralnet"]) else None
        peers = [per_fw[p][i] for p in PEERS if i < len(per_fw[p])]
        if nn is not None and peers:
            ratios.append(nn / max(peers))
    return ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--load-start", default="")
    ap.add_argument("--load-end", default="")
    ap.add_argument("--dotnet", default="")
    ap.add_argument("--wall", default="", help="wall time of the run in seconds")
    ap.add_argument("--omp-wait-policy", default="", help="OMP_WAIT_POLICY the PyTorch process ran with")
    args = ap.parse_args()

    train, sgemm, info, errors = {}, {}, {}, []
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
            if kind == "train":
                # Networks run in rounds too: the i-th record of a framework and network belongs to round i.
                train.setdefault((r["net"], fw), []).append(r)
            elif kind == "sgemm":
                # SGEMM runs in rounds: the i-th record of a framework and size belongs to round i.
                sgemm.setdefault((int(r["n"]), fw), []).append(r)
            elif kind == "info":
                info.setdefault(fw, r)
            elif kind == "error":
                errors.append(r)

    out = []
    w = out.append
    w("# NeuralNet vs NumPy and PyTorch")
    w("")
    w(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    w(f"- Machine: {cpu_info()}, Linux {platform.release()}")
    threads = next((i.get("threads") for i in info.values() if i.get("threads")), "?")
    w(f"- Threads: {threads} for every framework (OpenBLAS/OpenMP thread count, torch.set_num_threads, "
      f"NeuralNetSettings.MaxDegreeOfParallelism)"
      + (f"; OMP_WAIT_POLICY {args.omp_wait_policy}" if args.omp_wait_policy else ""))
    data = next((i.get("data") for i in info.values() if i.get("data")), "?")
    w(f"- Data: {data} (the same batches, in the same order, for all three)")
    versions = []
    if "numpy" in info:
        versions.append(f"NumPy {info['numpy'].get('numpy')} (Python {info['numpy'].get('python')})")
    if "torch" in info:
        versions.append(f"PyTorch {info['torch'].get('torch')}")
    versions.append(f"OpenBLAS (libopenblas0-pthread) {package_version('libopenblas0-pthread')}")
    if args.dotnet:
        versions.append(f".NET {args.dotnet}")
    w(f"- Versions: {', '.join(versions)}")
    # OPENBLAS_CORETYPE decides which kernels OpenBLAS runs (Haswell: its AVX2 kernels even on an AVX-512 CPU); the
    # machines here set it, and the benchmark leaves it as it is, so the report says what it was.
    blas_env = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("OPENBLAS_"))
    w(f"- OpenBLAS environment: {', '.join(blas_env) if blas_env else 'no OPENBLAS_* variables set'}")
    if args.load_start or args.load_end:
        w(f"- Load average (1/5/15 min) at start: {args.load_start}; at end: {args.load_end}"
          f" (the benchmark itself accounts for about {threads}; more means other work shared the cores and the figures"
          " are noisy)")
    if args.wall:
        w(f"- Wall time of the whole run: {args.wall} s")
    w("")
    w("## Training throughput (samples/s; higher is better)")
    w("")
    net_rounds = max((len(v) for v in train.values()), default=0)
    w(f"One step = forward, softmax cross-entropy loss, backward, plain SGD update (lr 0.05). {net_rounds} round(s) per"
      " network, each running NumPy, PyTorch and NeuralNet in turn; each cell is the median over the rounds of each"
      " round's median run, and the ratio is the median of the per-round ratios NeuralNet / faster peer.")
    w("")
    w("| Network | Batch | NumPy | PyTorch | NeuralNet | NeuralNet / best peer | rounds NeuralNet ahead |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    nets = sorted({k[0] for k in train}, key=lambda n: NET_ORDER.find(n))
    for net in nets:
        per_fw = {fw: [r["samples_per_s"] for r in train.get((net, fw), [])] for fw, _ in FRAMEWORKS}
        any_rec = next(recs[0] for (n, _), recs in train.items() if n == net)
        rates = {fw: (statistics.median(v) if v else None) for fw, v in per_fw.items()}
        ratios = round_ratios(per_fw, net_rounds)
        ratio = f"{statistics.median(ratios):.2f}×" if ratios else "n/a"
        ahead = f"{sum(1 for x in ratios if x >= 1)} of {len(ratios)}" if ratios else "n/a"
        w(f"| {net}) {any_rec.get('title', net)} | {any_rec['batch']} | {fmt_rate(rates['numpy'])} | "
          f"{fmt_rate(rates['torch'])} | {fmt_rate(rates['neuralnet'])} | {ratio} | {ahead} |")
    w("")
    w("## Square SGEMM, C = A·B, float32 (GFLOP/s = 2n³ / time; higher is better)")
    w("")
    rounds = max((len(v) for v in sgemm.values()), default=0)
    w(f"{rounds} rounds, each running NumPy, PyTorch and NeuralNet in turn (a few seconds apart); each cell is the median"
      " over the rounds of each round's median run, and the ratio is the median of the per-round ratios NeuralNet / faster"
      " peer (the load changes within minutes here, so only ratios from the same round are compared).")
    w("")
    w("| n | NumPy (OpenBLAS) | PyTorch | NeuralNet Kernels.Gemm | NeuralNet / best peer | rounds NeuralNet ahead |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n in sorted({k[0] for k in sgemm}):
        per_fw = {fw: [r["gflops"] for r in sgemm.get((n, fw), [])] for fw, _ in FRAMEWORKS}
        g = {fw: (statistics.median(v) if v else None) for fw, v in per_fw.items()}
        ratios = round_ratios(per_fw, rounds)
        ratio = f"{statistics.median(ratios):.2f}×" if ratios else "n/a"
        ahead = f"{sum(1 for x in ratios if x >= 1)} of {len(ratios)}" if ratios else "n/a"
        w(f"| {n} | {fmt_rate(g['numpy'])} | {fmt_rate(g['torch'])} | {fmt_rate(g['neuralnet'])} | {ratio} | {ahead} |")
    w("")
    w("## Details")
    w("")
    w("Timed steps per run × runs, the best run, the spread of the runs ((max − min) / median), and the loss at the first"
      " warm-up step → the last step (a single example for batch 1; a sanity check, the initial weights differ):")
    w("")
    for net in nets:
        parts = []
        for fw, label in FRAMEWORKS:
            recs = train.get((net, fw), [])
            if not recs:
                parts.append(f"{label}: no result")
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
    sg_parts = []
    for n in sorted({k[0] for k in sgemm}):
        cells = []
        for fw, label in FRAMEWORKS:
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
