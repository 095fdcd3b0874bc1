#!/usr/bin/env python3
"""Fits the ring all-reduce cost model, with and without overlap of the backward pass, to the worker's measurements and
predicts step time and scaling efficiency at 4, 16 and 64 machines.

    cost_model.py results/p-*.md -- results/o-*.md

p-*.md: tables of the worker's `sweep` mode (ordered all-reduce time per buffer size), per link and rank count.
o-*.md: tables of its `overlap` mode (per network and bucket cap: compute, hideable backward, step with the reduction
after the backward pass and overlapped with it), per link, rank count and round. Written by overlap.sh.

Model, N machines, gradient of S bytes in K buckets, link bandwidth B, per-message latency a:
    R_K(N)     = 2(N-1)/N * S / B + K * 2(N-1) * a          (ordered all-reduce = all-to-all + all-gather per bucket:
                                                             the bytes of a ring, 2(N-1) messages per rank and bucket)
    after(N)   = C + R_1(N)                                 (one reduction after the backward pass)
    overlap(N) = C + R_K(N) - min(R_K(N) - R_last(N), H)    (buckets reduced while backward continues)
C: the measured step without communication (forward, backward, SGD) of one rank at its batch (minimum over the steps,
as the machine's load is not the model's business). H: the backward time left
after the first bucket's layers are done (measured): communication can hide behind it, but the last bucket (the first
layers, done last) can only start when backward ends, so R_last(N) is never hidden. Efficiency = C / step time: the
throughput of N machines relative to N that need not communicate.

Fit: a is half the fastest 2-rank all-reduce of <= 16 KiB; 1/B the least-squares slope of (t - 2a) over the 2-rank
buffers of 1 MiB and more (above the 256 KB burst of the token-bucket filter). Minimum times, because on a shared
2-core machine only the minimum is free of pre-emption; the step times compared with the model are medians (merged over
rounds by their median) and minima. The 3-rank sweep and steps validate the fit. Rows marked "nominal" use the link's nominal
rate and an assumed a = 50 us (TCP through a switch) instead of the fit.
"""
import re
import statistics
import sys

DEFAULT_CAP = 65536


def rows(path, columns):
    ranks = None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^# .*?(\d+) rank\(s\)", line)
        if m:
            ranks = int(m.group(1))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == columns and re.match(r"^[\d,]+$", cells[2 if columns == 12 else 1]):
            yield ranks, cells


num = lambda cell: float(cell.split("/")[0].replace(",", ""))
low = lambda cell: float(cell.split("/")[-1].replace(",", ""))


def fit(points):
    a = min(t for s, t in points if s <= 16384) / 2
    large = [(s, t - 2 * a) for s, t in points if s >= 1048576]
    inverse = sum(s * t for s, t in large) / sum(s * s for s, _ in large)
    return a, 1 / inverse  # us, bytes per us


def reduce_time(n, size, buckets, a, bw):
    return 2 * (n - 1) / n * size / bw + buckets * 2 * (n - 1) * a


def step_times(r, n, a, bw):
    after = r["compute"] + reduce_time(n, r["bytes"], 1, a, bw)
    full = reduce_time(n, r["bytes"], r["buckets"], a, bw)
    last = reduce_time(n, r["last"], 1, a, bw)
    over = r["compute"] + full - min(full - last, r["hideable"])
    return after, over


def unloaded(r):
    """The row with the minimum compute and hideable times (the machine's load removed) as C and H."""
    return r | {"compute": r["compute_min"], "hideable": r["hideable_min"]}


def main(args):
    split = args.index("--")
    sweeps, benches = args[:split], args[split + 1:]
    best = {}
    for path in sweeps:
        for ranks, c in rows(path, 4):
            key = (c[0], ranks, int(c[1].replace(",", "")))
            best[key] = min(best.get(key, float("inf")), num(c[2]))
    points = {}
    for (link, ranks, size), t in sorted(best.items()):
        points.setdefault((link, ranks), []).append((size, t))
    params = {link: fit(p) for (link, ranks), p in points.items() if ranks == 2}

    print("Fit (ordered all-reduce, minimum times; 2 ranks fitted, 3 ranks predicted):\n")
    print("| link | ranks | latency a | bandwidth B | buffer | measured | model |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (link, ranks), pts in sorted(points.items()):
        if link not in params:
            continue
        a, bw = params[link]
        for s, t in pts:
            print(f"| {link} | {ranks} | {a:.0f} µs | {bw * 8 / 1000:.2f} Gbit/s | {s:,} B | {t:,.0f} µs "
                  f"| {reduce_time(ranks, s, 1, a, bw):,.0f} µs |")

    # Overlap benchmark rows: median over rounds of each median.
    samples = {}
    for path in benches:
        for ranks, c in rows(path, 12):
            key = (c[0], c[1], ranks, int(c[4].replace(",", "")))
            d = samples.setdefault(key, dict(bytes=int(c[2].replace(",", "")), buckets=int(c[5]), last=int(c[6].replace(",", "")),
                                              compute=[], hideable=[], after=[], over=[]))
            for name, i in (("compute", 7), ("hideable", 8), ("after", 9), ("over", 10)):
                d[name].append(num(c[i]))
                d.setdefault(name + "_min", []).append(low(c[i]))
    bench = {k: {n: ((min(v) if n.endswith("_min") else statistics.median(v)) if isinstance(v, list) else v) for n, v in d.items()}
             | {"rounds": len(d["compute"])} for k, d in samples.items()}

    print("\nMeasured step in ms, median of the rounds' medians / minimum over all steps, reduction after backward vs overlapped:\n")
    print("| link | network | ranks | bucket cap | buckets | compute | hideable | after | overlapped | overlapped / after, medians / minima | rounds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ms = lambda r, n: f"{r[n] / 1000:.2f} / {r[n + '_min'] / 1000:.2f}"
    for (link, net, ranks, cap), r in sorted(bench.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1], kv[0][3])):
        print(f"| {link} | {net} | {ranks} | {cap:,} | {r['buckets']} | {ms(r, 'compute')} | {ms(r, 'hideable')} "
              f"| {ms(r, 'after')} | {ms(r, 'over')} | {r['over'] / r['after']:.2f} / {r['over_min'] / r['after_min']:.2f} | {r['rounds']} |")

    print(f"\nModel against the measured minima (bucket cap {DEFAULT_CAP:,} B; a and B fitted above; C and H the measured minima):\n")
    print("| link | network | ranks | measured after / overlapped | model after / overlapped |")
    print("|---|---|---:|---:|---:|")
    for (link, net, ranks, cap), r in sorted(bench.items()):
        if cap != DEFAULT_CAP or link not in params:
            continue
        after, over = step_times(unloaded(r), ranks, *params[link])
        print(f"| {link} | {net} | {ranks} | {r['after_min'] / 1000:.2f} / {r['over_min'] / 1000:.2f} ms | {after / 1000:.2f} / {over / 1000:.2f} ms |")

    nominal = {"1gbit": ("1 Gbit/s nominal", 50.0, 1e9 / 8 / 1e6), "10gbit": ("10 Gbit/s nominal", 50.0, 10e9 / 8 / 1e6)}
    print(f"\nPrediction, C and H the minima over the 2-rank runs of every link (one thread per rank), bucket cap {DEFAULT_CAP:,} B:\n")
    print("| link (a, B) | network | gradient | buckets | C | H | step after, 4 / 16 / 64 | step overlapped, 4 / 16 / 64 "
          "| efficiency after, 4 / 16 / 64 | efficiency overlapped, 4 / 16 / 64 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    # C and H do not depend on the link: the least of every 2-rank run of the network.
    base = {}
    for (link, net, ranks, cap), r in bench.items():
        if ranks == 2 and cap == DEFAULT_CAP:
            u = unloaded(r)
            old = base.get(net)
            base[net] = u if old is None else u | {"compute": min(u["compute"], old["compute"]), "hideable": min(u["hideable"], old["hideable"])}
    links = [(title, a, bw) for title, a, bw in nominal.values()] + \
            [(f"fitted {link}", *params[link]) for link in sorted(params) if link in nominal]
    for title, a, bw in links:
        for net, r in sorted(base.items(), key=lambda kv: kv[1]["bytes"]):
            after = [step_times(r, n, a, bw)[0] for n in (4, 16, 64)]
            over = [step_times(r, n, a, bw)[1] for n in (4, 16, 64)]
            print(f"| {title} ({a:.0f} µs, {bw * 8 / 1000:.2f} Gbit/s) | {net} | {r['bytes'] / 1e6:.2f} MB | {r['buckets']} "
                  f"| {r['compute'] / 1000:.2f} ms | {r['hideable'] / 1000:.2f} ms "
                  f"| {' / '.join(f'{s / 1000:.1f}' for s in after)} ms | {' / '.join(f'{s / 1000:.1f}' for s in over)} ms "
                  f"| {' / '.join(format(r['compute'] / s, '.0%') for s in after)} "
                  f"| {' / '.join(format(r['compute'] / s, '.0%') for s in over)} |")


if __name__ == "__main__":
    if "--" not in sys.argv[1:]:
        sys.exit(__doc__)
    main(sys.argv[1:])
