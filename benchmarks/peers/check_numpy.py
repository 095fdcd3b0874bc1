#!/usr/bin/python3
"""Checks the hand-written NumPy networks of peers.py against PyTorch autograd.

For each network: copies the PyTorch initial weights into the NumPy network (transposing to its layouts), runs one
SGD step on the same MNIST batch in both, and compares the loss and every updated weight. Exits non-zero on a
mismatch. Run: /usr/bin/python3 benchmarks/peers/check_numpy.py
"""

import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402


def numpy_params(net):
    return [layer for layer in net.layers if hasattr(layer, "w")]


def torch_params(model):
    return [m for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]


def to_numpy_layout(tl, nl, prev_shape):
    """Torch weight -> NumPy layout. prev_shape is (C, H, W) when a Dense follows a Flatten of NHWC maps."""
    w = tl.weight.detach().numpy()
    if isinstance(tl, nn.Conv2d):
        return w.reshape(w.shape[0], -1).T.copy()
    if prev_shape is not None:
        c, h, wd = prev_shape
        return w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1).T.copy()
    return w.T.copy()


def flatten_inputs(tls, flatten_shape):
    """Per torch layer, the (C, H, W) of the Flatten it follows (the first Linear of a conv net), else None."""
    prevs, first_dense = [], True
    for tl in tls:
        prev = None
        if isinstance(tl, nn.Linear) and flatten_shape is not None and first_dense:
            prev, first_dense = flatten_shape, False
        prevs.append(prev)
    return prevs


def main():
    x, y, _ = peers.load_data("mnist", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist"), limit=512)
    build = peers.numpy_nets()
    flatten_shapes = {"c": (16, 4, 4), "d": (8, 13, 13)}
    ok = True
    for name in "abcd":
        batch = peers.NETS[name]["batch"]
        model, image = peers.torch_build(name)
        model = model.double()
        net = build(name)
        tls, nls = torch_params(model), numpy_params(net)
        assert len(tls) == len(nls)
        prevs = flatten_inputs(tls, flatten_shapes.get(name))
        for tl, nl, prev in zip(tls, nls, prevs):
            nl.w = to_numpy_layout(tl, nl, prev).astype(np.float64)
            if nl.__dict__.get("b") is not None:
                nl.b = tl.bias.detach().numpy().astype(np.float64).copy()
        xb, yb = x[:batch].astype(np.float64), y[:batch]
        loss_np = net.step(xb, yb)
        opt = torch.optim.SGD(model.parameters(), lr=peers.LEARNING_RATE)
        tx = torch.from_numpy(xb).view((batch, 1, 28, 28) if image else (batch, 784))
        loss_t = nn.CrossEntropyLoss()(model(tx), torch.from_numpy(yb))
        opt.zero_grad()
        loss_t.backward()
        opt.step()
        worst = abs(loss_np - loss_t.item())
        for tl, nl, prev in zip(tls, nls, prevs):
            worst = max(worst, float(np.max(np.abs(to_numpy_layout(tl, nl, prev) - nl.w))))
            if nl.__dict__.get("b") is not None:
                worst = max(worst, float(np.max(np.abs(tl.bias.detach().numpy() - nl.b))))
        status = "ok" if worst < 1e-6 else "MISMATCH"
        ok &= worst < 1e-6
        print(f"net {name}: loss numpy {loss_np:.10f} torch {loss_t.item():.10f}; max |diff| after one step {worst:.2e} {status}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
