#!/usr/bin/python3
"""The NumPy and PyTorch side of the peer benchmark (benchmarks/peers/run.sh drives it).

Trains the four reference networks with plain SGD and the modern CNN with SGD momentum on MNIST-shaped batches and
times a fixed number of training steps (forward, loss, backward, SGD update) after a warm-up; also times square SGEMM.
Prints one JSON object per line on stdout, the same format NeuralNet.Peers prints:

  {"framework": "numpy", "kind": "train", "net": "a", "batch": 256, "steps": 200, "samples_per_s": ..., ...}
  {"framework": "numpy", "kind": "sgemm", "n": 512, "gflops": ..., ...}

Networks (identical in the three implementations):
  a  MLP 784-64-10, sigmoid hidden, softmax output, cross-entropy, batch 256
  b  MLP 784-400-100-25-10, ReLU hidden, softmax output, cross-entropy, batch 30
  c  LeNet-5: conv 6@5x5, ReLU, maxpool 2, conv 16@5x5, ReLU, maxpool 2, dense 256-120 ReLU, 84 ReLU, 10; batch 64
  d  small CNN: conv 8@3x3 (no bias), sigmoid, maxpool 2, dense 1352-20 sigmoid, dense 20-10 softmax; batch 1
  e  modern CNN (samples/Mnist modern-cnn): conv 24@5x5 (no bias), BN, ReLU, maxpool 2, conv 48@3x3 same (no bias),
     BN, ReLU, maxpool 2, conv 96@3x3 (no bias), BN, ReLU, dense 1536-128 (no bias), BN, ReLU, dropout 0.3, dense 128-10;
     batch 128, SGD with momentum 0.9, training mode (batch statistics, dropout); PyTorch only (not NumPy)

The softmax output and the cross-entropy are computed fused on the logits everywhere (NumPy by hand, PyTorch
nn.CrossEntropyLoss, NeuralNet SoftmaxCrossEntropyLoss): the gradient is (softmax(z) - onehot(y)) / N.
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time

NETS = {
    "a": {"batch": 256, "title": "MLP 784-64-10 sigmoid, b256"},
    "b": {"batch": 30, "title": "MLP 784-400-100-25-10 ReLU, b30"},
    "c": {"batch": 64, "title": "LeNet-5, b64"},
    "d": {"batch": 1, "title": "CNN conv8@3x3-pool-20-10 sigmoid, b1"},
    "e": {"batch": 128, "title": "Modern CNN 24-48-96 BN, dense 128 BN dropout, momentum, b128", "momentum": 0.9},
}

# Networks the hand-written NumPy side does not implement (batch normalization and dropout would be a framework of
# their own, not NumPy as its users write it).
NUMPY_NETS = "abcd"

LEARNING_RATE = 0.05


def emit(obj):
    print(json.dumps(obj), flush=True)


def load_data(kind, root, limit=60000):
    """Returns (images float32 (N, 784) in [0, 1], labels int64 (N,)) and a description."""
    import numpy as np

    if kind == "mnist":
        with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz"), "rb") as f:
            raw = f.read()
        magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
        if magic != 2051 or rows != 28 or cols != 28:
            raise ValueError(f"unexpected IDX image header {magic} {count} {rows} {cols}")
        n = min(int(count), limit)
        x = np.frombuffer(raw[16:16 + n * 784], dtype=np.uint8).reshape(n, 784).astype(np.float32) / 255.0
        with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz"), "rb") as f:
            raw = f.read()
        y = np.frombuffer(raw[8:8 + n], dtype=np.uint8).astype(np.int64)
        return x, y, f"MNIST train, first {n} images, scaled to [0,1]"
    rng = np.random.default_rng(1234)
    x = rng.random((limit, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=limit).astype(np.int64)
    return x, y, f"random uniform [0,1) data of MNIST shape, {limit} images"


def run_loop(step, batches, warmup, warmup_seconds, steps, repeats, budget):
    """Runs at least `warmup` warm-up steps and at least `warmup_seconds` of them, then up to `repeats` timed runs
    of `steps` steps; stops early (after at least one timed run) when the timed runs have used more than `budget`
    seconds. Returns (seconds per timed run, first and last loss, warm-up steps run, steps per timed run)."""
    nb = len(batches)
    i = 0
    first_loss = None
    t0 = time.perf_counter()
    while i < warmup or time.perf_counter() - t0 < warmup_seconds:
        loss = step(*batches[i % nb])
        if first_loss is None:
            first_loss = float(loss)
        i += 1
    # A very slow implementation times fewer steps per run (the rate stays comparable) so all runs fit the budget;
    # the step time is estimated on a few steps after the warm-up.
    t0 = time.perf_counter()
    for _ in range(5):
        loss = step(*batches[i % nb])
        i += 1
    warm_steps = i
    per_step = (time.perf_counter() - t0) / 5
    steps = max(1, min(steps, int(budget / repeats / per_step)))
    times = []
    used = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step(*batches[i % nb])
            i += 1
        dt = time.perf_counter() - t0
        times.append(dt)
        used += dt
        if used > budget:
            break
    return times, first_loss, float(loss), warm_steps, steps


# ----------------------------------------------------------------------------------------------------------------------
# NumPy: hand-written layers. Images are kept NHWC inside the CNNs so that im2col is one strided view plus one copy and
# the convolution output of the GEMM (rows = output pixels, columns = channels) needs no transpose.
# ----------------------------------------------------------------------------------------------------------------------

def numpy_nets():
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    f32 = np.float32

    class Dense:
        def __init__(self, rng, fan_in, fan_out, need_dx=True):
            self.w = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(f32)  # x @ w
            self.b = np.zeros(fan_out, f32)
            self.need_dx = need_dx

        def forward(self, x):
            self.x = x
            y = x @ self.w
            y += self.b
            return y

        def backward(self, dy):
            self.dw = self.x.T @ dy
            self.db = dy.sum(axis=0)
            return dy @ self.w.T if self.need_dx else None

        def params(self):
            return [(self.w, self.dw), (self.b, self.db)]

    class Conv:
        """Valid convolution, stride 1, NHWC, weights (kh*kw*cin, cout) so that out = im2col(x) @ w."""

        def __init__(self, rng, cin, cout, k, bias=True, need_dx=True):
            fan_in = cin * k * k
            self.k, self.cin, self.cout = k, cin, cout
            self.w = (rng.standard_normal((fan_in, cout)) * np.sqrt(2.0 / fan_in)).astype(f32)
            self.b = np.zeros(cout, f32) if bias else None
            self.need_dx = need_dx

        def forward(self, x):
            n, h, w, c = x.shape
            k = self.k
            ho, wo = h - k + 1, w - k + 1
            # (n, ho, wo, c, k, k) view -> (n*ho*wo, c*k*k) copy: the im2col matrix.
            win = sliding_window_view(x, (k, k), axis=(1, 2))
            self.cols = win.reshape(n * ho * wo, c * k * k)
            self.in_shape = x.shape
            y = self.cols @ self.w
            if self.b is not None:
                y += self.b
            return y.reshape(n, ho, wo, self.cout)

        def backward(self, dy):
            n, ho, wo, co = dy.shape
            dy2 = dy.reshape(n * ho * wo, co)
            self.dw = self.cols.T @ dy2
            if self.b is not None:
                self.db = dy2.sum(axis=0)
            if not self.need_dx:
                return None
            k = self.k
            dcols = (dy2 @ self.w.T).reshape(n, ho, wo, self.cin, k, k)
            dx = np.zeros(self.in_shape, dy.dtype)
            # col2im: one strided add per kernel offset.
            for i in range(k):
                for j in range(k):
                    dx[:, i:i + ho, j:j + wo, :] += dcols[:, :, :, :, i, j]
            return dx

        def params(self):
            p = [(self.w, self.dw)]
            if self.b is not None:
                p.append((self.b, self.db))
            return p

    class MaxPool2:
        """2x2 max pooling, stride 2, NHWC; the gradient goes to the first maximum of each window."""

        def forward(self, x):
            n, h, w, c = x.shape
            win = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, h // 2, w // 2, c, 4)
            self.idx = win.argmax(axis=-1)
            self.in_shape = x.shape
            return np.take_along_axis(win, self.idx[..., None], axis=-1)[..., 0]

        def backward(self, dy):
            n, h, w, c = self.in_shape
            dwin = np.zeros((n, h // 2, w // 2, c, 4), dy.dtype)
            np.put_along_axis(dwin, self.idx[..., None], dy[..., None], axis=-1)
            return dwin.reshape(n, h // 2, w // 2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(self.in_shape)

        def params(self):
            return []

    class ReLU:
        def forward(self, x):
            self.mask = x > 0
            return np.maximum(x, 0, out=x)

        def backward(self, dy):
            dy *= self.mask
            return dy

        def params(self):
            return []

    class Sigmoid:
        def forward(self, x):
            np.negative(x, out=x)
            np.exp(x, out=x)
            x += 1
            np.reciprocal(x, out=x)
            self.y = x
            return x

        def backward(self, dy):
            return dy * self.y * (1 - self.y)

        def params(self):
            return []

    class Flatten:
        def forward(self, x):
            self.shape = x.shape
            return x.reshape(x.shape[0], -1)

        def backward(self, dy):
            return dy.reshape(self.shape)

        def params(self):
            return []

    class Net:
        def __init__(self, layers, image):
            self.layers = layers
            self.image = image  # True: input reshaped to (N, 28, 28, 1)
            self.rows = {}

        def step(self, x, y, count_correct=False):
            """One SGD step; returns the batch loss, or (loss, correctly classified rows) with count_correct."""
            n = x.shape[0]
            h = x.reshape(n, 28, 28, 1) if self.image else x
            for layer in self.layers:
                h = layer.forward(h)
            # Fused softmax + cross-entropy on the logits.
            r = self.rows.get(n)
            if r is None:
                r = self.rows[n] = np.arange(n)
            m = h.max(axis=1, keepdims=True)
            e = np.exp(h - m)
            s = e.sum(axis=1, keepdims=True)
            loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - h[r, y]))
            correct = int(np.count_nonzero(h.argmax(axis=1) == y)) if count_correct else None
            g = e / s
            g[r, y] -= 1
            g *= f32(1.0 / n)
            for layer in reversed(self.layers):
                g = layer.backward(g)
            lr = f32(LEARNING_RATE)
            for layer in self.layers:
                for p, dp in layer.params():
                    dp *= lr
                    p -= dp
            return (loss, correct) if count_correct else loss

    def build(name):
        rng = np.random.default_rng(42)
        if name == "a":
            return Net([Dense(rng, 784, 64, need_dx=False), Sigmoid(), Dense(rng, 64, 10)], image=False)
        if name == "b":
            return Net([Dense(rng, 784, 400, need_dx=False), ReLU(), Dense(rng, 400, 100), ReLU(),
                        Dense(rng, 100, 25), ReLU(), Dense(rng, 25, 10)], image=False)
        if name == "c":
            return Net([Conv(rng, 1, 6, 5, need_dx=False), ReLU(), MaxPool2(),
                        Conv(rng, 6, 16, 5), ReLU(), MaxPool2(), Flatten(),
                        Dense(rng, 256, 120), ReLU(), Dense(rng, 120, 84), ReLU(), Dense(rng, 84, 10)], image=True)
        if name == "d":
            return Net([Conv(rng, 1, 8, 3, bias=False, need_dx=False), Sigmoid(), MaxPool2(), Flatten(),
                        Dense(rng, 1352, 20), Sigmoid(), Dense(rng, 20, 10)], image=True)
        raise ValueError(name)

    return build


def numpy_batches(x, y, batch, image):
    n = (x.shape[0] // batch) * batch
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


# ----------------------------------------------------------------------------------------------------------------------
# PyTorch: plain nn modules, nn.CrossEntropyLoss and torch.optim.SGD.
# ----------------------------------------------------------------------------------------------------------------------

def torch_build(name):
    import torch
    from torch import nn

    torch.manual_seed(42)
    if name == "a":
        return nn.Sequential(nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 10)), False
    if name == "b":
        return nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 100), nn.ReLU(),
                             nn.Linear(100, 25), nn.ReLU(), nn.Linear(25, 10)), False
    if name == "c":
        return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)), True
    if name == "d":
        return nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.Sigmoid(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1352, 20), nn.Sigmoid(), nn.Linear(20, 10)), True
    if name == "e":
        return nn.Sequential(nn.Conv2d(1, 24, 5, bias=False), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(24, 48, 3, padding=1, bias=False), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(48, 96, 3, bias=False), nn.BatchNorm2d(96), nn.ReLU(), nn.Flatten(),
                             nn.Linear(1536, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(128, 10)), True
    raise ValueError(name)


# ----------------------------------------------------------------------------------------------------------------------
# The user's path: an ordinary training loop, timed epoch by epoch from its start (no warm-up before it). Every epoch
# draws a random permutation, gathers each batch by fancy indexing / index_select (the last batch may be partial, as a
# DataLoader without drop_last), steps, and accumulates the epoch's loss and accuracy, as Trainer.Fit does.
# ----------------------------------------------------------------------------------------------------------------------

def numpy_fit(net, x, y, batch, epochs, image):
    import numpy as np

    rng = np.random.default_rng(42)
    n = x.shape[0]
    rates, losses, accs = [], [], []
    start = prev = time.perf_counter()
    for _ in range(epochs):
        perm = rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for off in range(0, n, batch):
            idx = perm[off:off + batch]
            loss, c = net.step(x[idx], y[idx], count_correct=True)
            loss_sum += loss * len(idx)
            correct += c
        now = time.perf_counter()
        rates.append(n / (now - prev))
        prev = now
        losses.append(loss_sum / n)
        accs.append(correct / n)
    return rates, losses, accs


def torch_fit(model, x, y, batch, epochs, image, momentum=0.0):
    import torch
    from torch import nn

    crit = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=momentum)
    gen = torch.Generator().manual_seed(42)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    n = tx.shape[0]
    shape = (-1, 1, 28, 28) if image else (-1, 784)
    rates, losses, accs = [], [], []
    start = prev = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for off in range(0, n, batch):
            idx = perm[off:off + batch]
            xb = tx.index_select(0, idx).view(shape)
            yb = ty.index_select(0, idx)
            opt.zero_grad()
            out = model(xb)
            loss = crit(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        now = time.perf_counter()
        rates.append(n / (now - prev))
        prev = now
        losses.append(loss_sum / n)
        accs.append(correct / n)
    return rates, losses, accs


def blas_info():
    """Which BLAS library and which of its kernels (OpenBLAS 'architecture', e.g. Haswell = AVX2, SkylakeX = AVX-512) run."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            parts.append(f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture', '?')} kernels, "
                         f"{lib.get('num_threads')} threads")
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def sgemm(framework, label, sizes, repeats, budget, threads):
    import numpy as np

    rng = np.random.default_rng(7)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        if framework == "torch":
            import torch
            ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)

            def mm():
                torch.mm(ta, tb, out=tc)
        else:
            def mm():
                np.matmul(a, b, out=c)
        mm()
        # Calibrate the call count so one timed run lasts about 0.2 s, from the fastest of at least 3 calls and 0.05 s
        # of calls (a single call can stall on a busy machine).
        t_start = time.perf_counter()
        probe, one = 0, float("inf")
        while probe < 3 or time.perf_counter() - t_start < 0.05:
            t0 = time.perf_counter()
            mm()
            one = min(one, time.perf_counter() - t0)
            probe += 1
        calls = max(1, int(0.2 / max(one, 1e-9)))
        rates = []
        used = 0.0
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                mm()
            dt = time.perf_counter() - t0
            rates.append(2.0 * n * n * n * calls / dt / 1e9)
            used += dt
            if used > budget:
                break
        emit({"framework": label, "kind": "sgemm", "n": n, "calls": calls, "repeats": len(rates),
              "gflops": statistics.median(rates), "all": rates, "threads": threads})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=["numpy", "torch"], required=True)
    ap.add_argument("--label", default=None, help="framework name in the output (default: --framework), e.g. numpy-avx512")
    ap.add_argument("--mode", choices=["train", "fit"], default="train",
                    help="train: timed raw steps after a warm-up; fit: an ordinary epoch loop, timed epoch by epoch")
    ap.add_argument("--epochs", type=int, default=8, help="fit: epochs")
    ap.add_argument("--examples", default="a=60000,b=15000,c=6400,d=3000,e=6400", help="fit: training examples per epoch, per network")
    ap.add_argument("--nets", default="a,b,c,d")
    ap.add_argument("--steps", default="a=500,b=300,c=100,d=3000,e=60",
                    help="timed steps per repeat, per network")
    ap.add_argument("--warmup", type=int, default=50, help="minimum warm-up steps")
    ap.add_argument("--warmup-seconds", type=float, default=2.0, help="minimum warm-up time")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of timed runs per network before stopping early")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", choices=["mnist", "random"], default="mnist")
    ap.add_argument("--mnist-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist"))
    ap.add_argument("--sgemm", default="128,256,512,1024", help="square sizes; empty to skip")
    args = ap.parse_args()

    import numpy as np

    label = args.label or args.framework
    steps = dict(kv.split("=") for kv in args.steps.split(","))
    examples = {k: int(v) for k, v in (kv.split("=") for kv in args.examples.split(","))}
    net_names = [s for s in args.nets.split(",") if s]
    x, y, data_desc = load_data(args.data, args.mnist_dir) if net_names else (None, None, None)
    info = {"framework": label, "kind": "info", "data": data_desc, "threads": args.threads,
            "numpy": np.__version__, "python": sys.version.split()[0], "blas": blas_info(),
            "openblas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_")}}

    if args.framework == "torch":
        import torch
        torch.set_num_threads(args.threads)
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    emit(info)

    build_numpy = numpy_nets() if args.framework == "numpy" else None
    for name in net_names:
        if args.framework == "numpy" and name not in NUMPY_NETS:
            emit({"framework": label, "kind": "skip", "net": name, "mode": args.mode,
                  "reason": "not implemented in NumPy (batch normalization and dropout)"})
            continue
        batch = NETS[name]["batch"]
        momentum = NETS[name].get("momentum", 0.0)
        nsteps = int(steps[name])
        if args.mode == "fit":
            n = min(examples[name], x.shape[0])
            image = name in "cde"
            if args.framework == "numpy":
                rates, losses, accs = numpy_fit(build_numpy(name), x[:n], y[:n], batch, args.epochs, image)
            else:
                model, image = torch_build(name)
                model.train()
                rates, losses, accs = torch_fit(model, x[:n], y[:n], batch, args.epochs, image, momentum)
            emit({"framework": label, "kind": "fit", "net": name, "title": NETS[name]["title"], "batch": batch,
                  "examples": n, "epochs": len(rates), "epoch_samples_per_s": rates, "loss_first_epoch": losses[0],
                  "loss_last_epoch": losses[-1], "accuracy_last_epoch": accs[-1], "threads": args.threads})
            continue
        if args.framework == "numpy":
            net = build_numpy(name)
            batches = numpy_batches(x, y, batch, image=name in "cd")
            step = net.step
        else:
            import torch
            from torch import nn
            model, image = torch_build(name)
            model.train()
            crit = nn.CrossEntropyLoss()
            opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=momentum)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            nfull = (x.shape[0] // batch) * batch
            shape = (batch, 1, 28, 28) if image else (batch, 784)
            batches = [(tx[i:i + batch].view(shape), ty[i:i + batch]) for i in range(0, nfull, batch)]

            def step(xb, yb, model=model, crit=crit, opt=opt):
                opt.zero_grad()
                loss = crit(model(xb), yb)
                loss.backward()
                opt.step()
                return loss.detach()

        times, first, last, warm, nsteps = run_loop(step, batches, args.warmup, args.warmup_seconds, nsteps, args.repeats, args.budget)
        rates = [batch * nsteps / t for t in times]
        emit({"framework": label, "kind": "train", "net": name, "title": NETS[name]["title"],
              "batch": batch, "steps": nsteps, "warmup": warm, "repeats": len(rates),
              "samples_per_s": statistics.median(rates), "all": rates,
              "loss_first": first, "loss_last": last, "threads": args.threads})

    sizes = [int(s) for s in args.sgemm.split(",") if s]
    if sizes:
        sgemm(args.framework, label, sizes, args.repeats, args.budget, args.threads)


if __name__ == "__main__":
    main()
