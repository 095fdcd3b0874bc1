#!/usr/bin/env python3
"""Fits the ring all-reduce cost model to the worker's `bench` tables and predicts step time and scaling efficiency.

    cost_model.py BENCH_OUTPUT...      (files holding the markdown tables the worker's bench mode prints)

Model, N machines, gradient of S bytes, link bandwidth B, per-message latency a:
    all-reduce(N) = 2(N-1)/N * S / B + 2(N-1) * a
The ordered all-reduce (all-to-all + rank-order sum + all-gather) moves the same 2(N-1)/N * S per rank as a ring and
sends 2(N-1) messages per rank. For each link the two unknowns are fitted by least squares to the measured 2-rank
times (minimum over iterations), where the model is S / B + 2a. Step time(N) = local part + all-reduce(N), the local part
(forward, backward, SGD) being the measured 2-rank step minus its all-reduce. Scaling efficiency at a fixed batch per
machine = local part / step time(N): the throughput of N machines relative to N independent ones.
"""
import re
import sys


def rows(paths):
    for path in paths:
        for line in open(path, encoding="utf-8"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 9 or not re.match(r"^[\d,]+$", cells[3]):
                continue
            link, net, _, size, ranks = cells[0], cells[1], cells[2], int(cells[3].replace(",", "")), int(cells[4])
            first = lambda c: float(c.split("/")[0])
            yield dict(link=link, net=net, bytes=size, ranks=ranks, compute=first(cells[5]), ordered=first(cells[6]),
                       native=first(cells[7]), step=first(cells[8]))


def fit(points):
    """Least squares t = c0 + c1 * S; returns latency a = c0 / 2 (us) and bandwidth 1 / c1 (bytes/us)."""
    n = len(points)
    mx = sum(s for s, _ in points) / n
    my = sum(t for _, t in points) / n
    sxx = sum((s - mx) ** 2 for s, _ in points)
    c1 = sum((s - mx) * (t - my) for s, t in points) / sxx
    c0 = my - c1 * mx
    return max(c0, 0.0) / 2, 1 / c1


def main(paths):
    data = [r for r in rows(paths) if r["ranks"] == 2]
    links = list(dict.fromkeys(r["link"] for r in data))
    print("| link | fitted latency a | fitted bandwidth | network | gradient | measured all-reduce (2) | model (2) "
          "| measured step (2) | step 4 / 16 / 64 machines, ms | efficiency 4 / 16 / 64 |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for link in links:
        rs = [r for r in data if r["link"] == link]
        a, bw = fit([(r["bytes"], r["ordered"]) for r in rs])
        for r in rs:
            model = lambda n: 2 * (n - 1) / n * r["bytes"] / bw + 2 * (n - 1) * a
            local = max(r["step"] - r["ordered"], 1e-9)
            steps = [local + model(n) for n in (4, 16, 64)]
            print(f"| {link} | {a:.0f} µs | {bw * 8 / 1000:.2f} Gbit/s | {r['net']} | {r['bytes'] / 1e6:.2f} MB "
                  f"| {r['ordered'] / 1000:.2f} ms | {model(2) / 1000:.2f} ms | {r['step'] / 1000:.2f} ms "
                  f"| {' / '.join(f'{s / 1000:.2f}' for s in steps)} "
                  f"| {' / '.join(f'{local / s:.0%}' for s in steps)} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
