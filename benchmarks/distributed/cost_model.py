#!/usr/bin/env python3
"""Fits the ring all-reduce cost model to the worker's measurements and predicts step time and scaling efficiency.

    cost_model.py SWEEP_OUTPUT... -- BENCH_OUTPUT...

SWEEP_OUTPUT: the tables of the worker's `sweep` mode (all-reduce time per buffer size), one file per link.
BENCH_OUTPUT: the tables of its `bench` mode (per reference network: compute, all-reduce and whole step), one per link.
Rows are matched by their first column (the --label given to the worker, e.g. 1gbit).

Model, N machines, gradient of S bytes, link bandwidth B, per-message latency a:
    all-reduce(N) = 2(N-1)/N * S / B + 2(N-1) * a
The ordered all-reduce (all-to-all + rank-order sum + all-gather) moves the same 2(N-1)/N * S per rank as a ring and
sends 2(N-1) messages per rank. Measured with 2 ranks, where the model is S / B + 2a: a is half the fastest small-buffer
time (<= 16 KiB), 1/B the least-squares slope of (t - 2a) over the buffers of 1 MiB and more, above the 256 KB burst
of the token-bucket filter (minimum times, merged over runs: on a shared machine only the minimum is free of
pre-emption). Step time(N) = compute + all-reduce(N), compute being the
measured forward + backward time of one rank at its batch; scaling efficiency at a fixed batch per machine =
compute / step time(N), the throughput of N machines relative to N that need not communicate. Rows marked "nominal"
use the link's nominal rate and an assumed 50 us latency instead of the fit.
"""
import re
import sys


def table(path, columns):
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == columns and re.match(r"^[\d,]+$", cells[1 if columns == 4 else 3]):
            yield cells


first = lambda cell: float(cell.split("/")[0])


def fit(points):
    small = [t for s, t in points if s <= 16384]
    a = min(small) / 2
    # Above the token bucket's 256 KB burst, which lets a smaller buffer through at the veth's own speed.
    large = [(s, t - 2 * a) for s, t in points if s >= 1048576]
    inverse = sum(s * t for s, t in large) / sum(s * s for s, _ in large)
    return a, 1 / inverse  # us, bytes per us


def main(args):
    split = args.index("--")
    sweeps, benches = args[:split], args[split + 1:]
    # Several runs of a link are merged by taking the minimum per buffer size / per network and column.
    best = {}
    for path in sweeps:
        for c in table(path, 4):
            key = (c[0], int(c[1].replace(",", "")))
            best[key] = min(best.get(key, float("inf")), first(c[2]))
    points = {}
    for (link, size), t in sorted(best.items()):
        points.setdefault(link, []).append((size, t))
    merged = {}
    for path in benches:
        for c in table(path, 9):
            row = dict(net=c[1], bytes=int(c[3].replace(",", "")), compute=first(c[5]), ordered=first(c[6]), step=first(c[8]))
            old = merged.get((c[0], c[1]))
            merged[(c[0], c[1])] = row if old is None else {k: (min(v, old[k]) if isinstance(v, float) else v) for k, v in row.items()}
    nets = {}
    for (link, _), row in merged.items():
        nets.setdefault(link, []).append(row)

    print("Fit (2 ranks, ordered all-reduce, minimum times):\n")
    print("| link | latency a | bandwidth B | buffer | measured | model S/B + 2a |")
    print("|---|---:|---:|---:|---:|---:|")
    params = {}
    for link, pts in points.items():
        a, bw = fit(pts)
        params[link] = (a, bw)
        for s, t in pts:
            print(f"| {link} | {a:.0f} µs | {bw * 8 / 1000:.2f} Gbit/s | {s:,} B | {t:,.0f} µs | {s / bw + 2 * a:,.0f} µs |")
    nominal = {"1gbit": 1e9, "10gbit": 10e9}
    for link, rate in nominal.items():
        params[f"{link} nominal"] = (50.0, rate / 8 / 1e6)

    print("\nPrediction per reference network (compute = measured forward + backward of one rank, batch 32):\n")
    print("| link (a, B) | network | gradient | compute | measured step, 2 machines | model step, 2 | step 4 / 16 / 64 machines "
          "| efficiency 4 / 16 / 64 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for link, (a, bw) in params.items():
        rows = nets.get(link.replace(" nominal", ""), [])
        for r in rows:
            model = lambda n: 2 * (n - 1) / n * r["bytes"] / bw + 2 * (n - 1) * a
            steps = [r["compute"] + model(n) for n in (4, 16, 64)]
            measured = "—" if link.endswith("nominal") else format(r["step"] / 1000, ".2f") + " ms"
            print(f"| {link} ({a:.0f} µs, {bw * 8 / 1000:.2f} Gbit/s) | {r['net']} | {r['bytes'] / 1e6:.2f} MB "
                  f"| {r['compute'] / 1000:.2f} ms | {measured} | {(r['compute'] + model(2)) / 1000:.2f} ms "
                  f"| {' / '.join(f'{s / 1000:.1f}' for s in steps)} ms "
                  f"| {' / '.join(format(r['compute'] / s, '.0%') for s in steps)} |")


if __name__ == "__main__":
    if "--" not in sys.argv[1:]:
        sys.exit(__doc__)
    main(sys.argv[1:])
