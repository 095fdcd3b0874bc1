"""Reference values for NeuralNet's BatchNorm1d/2d, AvgPool2D, MaxPool2D (padded), GlobalAvgPool2D, Conv2D ('same',
non-square), LeakyReLU and GELU (tanh), computed by PyTorch in float64.

Run with Debian's PyTorch (torch 1.13):  /usr/bin/python3 make_layers.py  (writes layers.json beside this script).
Inputs come from a fixed torch generator; the JSON holds every input, parameter, output and gradient flattened in
row-major order, so the C# tests (LayerParityTests) need no PyTorch. Each case's loss is sum(y * r) with a fixed random r,
so the input gradient is the vector-Jacobian product with r.
"""
import json
import os
import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)


def t(x):
    return [float(v) for v in x.detach().reshape(-1).tolist()]


def case(name, module, x, r=None, extra=None):
    x = x.clone().requires_grad_(True)
    y = module(x)
    if r is None:
        r = torch.randn_like(y)
    (y * r).sum().backward()
    out = {"name": name, "input_shape": list(x.shape), "input": t(x), "r": t(r), "output_shape": list(y.shape), "output": t(y),
           "input_grad": t(x.grad)}
    params = {}
    for pname, p in module.named_parameters():
        params[pname] = {"value": t(p), "grad": t(p.grad)}
    out["params"] = params
    if extra:
        out.update(extra)
    return out


cases = []

# BatchNorm2d, training: two forward passes (the second one checked) so the running statistics have moved twice.
for affine in (True, False):
    bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1, affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.rand(3) + 0.5)
            bn.bias.copy_(torch.randn(3))
    w0 = t(bn.weight) if affine else []
    b0 = t(bn.bias) if affine else []
    x1 = torch.randn(4, 3, 5, 6) * 2 + 1
    bn.train()
    bn(x1)
    x2 = torch.randn(4, 3, 5, 6) * 1.5 - 0.5
    c = case(f"bn2d_train_affine_{affine}", bn, x2)
    c.update({"first_input": t(x1), "weight0": w0, "bias0": b0, "running_mean": t(bn.running_mean), "running_var": t(bn.running_var),
              "num_batches_tracked": int(bn.num_batches_tracked)})
    cases.append(c)
    # Evaluation with those running statistics.
    bn.eval()
    bn.zero_grad()
    x3 = torch.randn(2, 3, 4, 4)
    c = case(f"bn2d_eval_affine_{affine}", bn, x3)
    c.update({"weight0": w0, "bias0": b0, "running_mean": t(bn.running_mean), "running_var": t(bn.running_var)})
    cases.append(c)

# BatchNorm1d, training and evaluation.
bn = torch.nn.BatchNorm1d(7, eps=1e-3, momentum=0.2)
with torch.no_grad():
    bn.weight.copy_(torch.rand(7) + 0.5)
    bn.bias.copy_(torch.randn(7))
w0, b0 = t(bn.weight), t(bn.bias)
x1 = torch.randn(5, 7) * 3
bn.train()
c = case("bn1d_train", bn, x1)
c.update({"weight0": w0, "bias0": b0, "running_mean": t(bn.running_mean), "running_var": t(bn.running_var), "num_batches_tracked": 1})
cases.append(c)
bn.eval()
bn.zero_grad()
c = case("bn1d_eval", bn, torch.randn(3, 7))
c.update({"weight0": w0, "bias0": b0, "running_mean": t(bn.running_mean), "running_var": t(bn.running_var)})
cases.append(c)

# Pooling.
cases.append(case("avgpool_k3_s2_p1", torch.nn.AvgPool2d(3, stride=2, padding=1), torch.randn(2, 3, 7, 6),
                  extra={"kernel": 3, "stride": 2, "padding": 1}))
cases.append(case("avgpool_k2_s2_p0", torch.nn.AvgPool2d(2), torch.randn(2, 2, 6, 5), extra={"kernel": 2, "stride": 2, "padding": 0}))
cases.append(case("maxpool_k3_s2_p1", torch.nn.MaxPool2d(3, stride=2, padding=1), torch.randn(2, 3, 7, 6),
                  extra={"kernel": 3, "stride": 2, "padding": 1}))
gap = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
cases.append(case("globalavgpool", gap, torch.randn(3, 4, 5, 7)))

# Conv2d with padding='same' on a non-square input.
conv = torch.nn.Conv2d(3, 4, 3, padding="same", bias=True)
cases.append(case("conv_same_k3_nonsquare", conv, torch.randn(2, 3, 5, 8), extra={"kernel": 3}))
conv5 = torch.nn.Conv2d(2, 3, 5, padding="same", bias=False)
cases.append(case("conv_same_k5_nonsquare", conv5, torch.randn(2, 2, 9, 6), extra={"kernel": 5}))

# Activations.
cases.append(case("leakyrelu_default", torch.nn.LeakyReLU(), torch.randn(3, 11), extra={"negative_slope": 0.01}))
cases.append(case("leakyrelu_0.2", torch.nn.LeakyReLU(0.2), torch.randn(2, 3, 4, 5), extra={"negative_slope": 0.2}))
cases.append(case("gelu_tanh", torch.nn.GELU(approximate="tanh"), torch.randn(4, 37) * 3))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases with torch {torch.__version__}")
