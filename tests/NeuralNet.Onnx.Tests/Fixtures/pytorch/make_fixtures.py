"""Makes the PyTorch fixtures of NeuralNet.Onnx.Tests (run with Debian's /usr/bin/python3: torch 1.13, onnx 1.12).

    /usr/bin/python3 make_fixtures.py            # writes mlp.onnx, lenet.onnx, cnn.onnx, *.safetensors and expected.json
    /usr/bin/python3 make_fixtures.py --check F  # loads a NeuralNet-written torch-layout safetensors file F into
                                                 # the LeNet-5 below and checks its outputs against expected.json
    /usr/bin/python3 make_fixtures.py --check-cnn F  # the same for the small CNN with batch normalization: also
                                                 # checks that every num_batches_tracked is int64 of shape []

The networks are nn.Sequential, so their state dicts are named "0.weight", "0.bias", "3.weight", ... (the layout
NeuralNet's TorchStateDict reads and writes). Weights come from torch.manual_seed(20241206); the fixed input and the
PyTorch outputs go to expected.json, so the tests need no PyTorch.

The `safetensors` Python package is not available here, so safetensors files are written and read by hand. The format:
  * 8 bytes: N, the length of the JSON header, unsigned little-endian 64-bit;
  * N bytes: a UTF-8 JSON object {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
    "__metadata__": {"key": "value"}} (metadata optional, string values only), padded with spaces;
  * the raw tensor data: each tensor's elements in row-major order, little-endian, at [8 + N + begin, 8 + N + end).
"""
import json
import struct
import sys

import torch
from torch import nn

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."


def mlp():
    return nn.Sequential(
        nn.Linear(12, 16), nn.ReLU(),
        nn.Linear(16, 8), nn.Sigmoid(),
        nn.Linear(8, 5), nn.Softmax(dim=1))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def cnn():
    """BatchNorm2d, LeakyReLU, padded MaxPool, AvgPool, Dropout, global average pooling and BatchNorm1d; odd sizes.
    Input (N, 3, 11, 13): conv → 11×13, max pool (3, stride 2, pad 1) → 6×7, conv → 4×5, avg pool 2 → 2×2, GAP → 8."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.LeakyReLU(0.1), nn.MaxPool2d(3, 2, padding=1),
        nn.Conv2d(6, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
        nn.Dropout(0.3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 5), nn.BatchNorm1d(5))


def write_safetensors(path, state, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        if t.dtype == torch.int64:  # num_batches_tracked: an int64 scalar, as safetensors.torch writes it
            data, dtype = t.detach().contiguous().numpy().astype("<i8").tobytes(), "I64"
        else:
            data, dtype = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        assert info["dtype"] in ("F32", "I64"), (name, info["dtype"])
        begin, end = info["data_offsets"]
        dtype = torch.float32 if info["dtype"] == "F32" else torch.int64
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def fixed_input(shape):
    g = torch.Generator().manual_seed(7)
    return torch.rand(shape, generator=g) * 2 - 1


def check(path, name="lenet", make=lenet):
    with open(f"{HERE}/expected.json") as f:
        expected = json.load(f)[name]
    model = make().eval()
    state = read_safetensors(path)
    reference = make().state_dict()
    for k, v in reference.items():
        # load_state_dict copies across dtypes, so the layout is checked explicitly: same dtype and shape as PyTorch's.
        assert state[k].dtype == v.dtype and state[k].shape == v.shape, (k, state[k].dtype, state[k].shape, v.dtype, v.shape)
    model.load_state_dict(state, strict=True)
    counts = {k: int(v) for k, v in state.items() if k.endswith("num_batches_tracked")}
    if counts:
        print("num_batches_tracked (int64, shape []):", counts)
        assert counts == expected["num_batches_tracked"], (counts, expected["num_batches_tracked"])
    x = torch.tensor(expected["input"]).reshape(expected["input_shape"])
    y = model(x).detach().flatten()
    want = torch.tensor(expected["output"])
    err = ((y - want).abs() / want.abs().clamp(min=1)).max().item()
    print(f"{path}: load_state_dict(strict=True) ok, max relative error {err:.3g}")
    sys.exit(0 if err <= 1e-5 else 1)


def main():
    torch.manual_seed(20241206)
    expected = {}
    for name, make, shape in (("mlp", mlp, [3, 12]), ("lenet", lenet, [3, 1, 28, 28]), ("cnn", cnn, [3, 3, 11, 13])):
        model = make()
        if name == "cnn":
            # A few training-mode batches give the running statistics values far from (0, 1) and count 4 batches.
            with torch.no_grad():
                for _ in range(4):
                    model.train()(torch.randn([8] + shape[1:]) * 1.5 + 0.7)
        model = model.eval()
        x = fixed_input(shape)
        with torch.no_grad():
            y = model(x)
        # TrainingMode.PRESERVE (the model is in eval mode) keeps BatchNormalization nodes: the default EVAL export
        # folds each BatchNorm into the Conv before it, and the fixture is meant to exercise BatchNormalization.
        torch.onnx.export(model, x, f"{HERE}/{name}.onnx", opset_version=13,
                          input_names=["input"], output_names=["output"],
                          training=torch.onnx.TrainingMode.PRESERVE,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        write_safetensors(f"{HERE}/{name}.safetensors", model.state_dict(), {"format": "pt"})
        # Self-check of the hand-written layout: reading it back gives the same state dict.
        back = read_safetensors(f"{HERE}/{name}.safetensors")
        for k, v in model.state_dict().items():
            assert back[k].dtype == v.dtype and torch.equal(back[k], v), k
        expected[name] = {
            "input_shape": shape,
            "input": x.flatten().tolist(),
            "output_shape": list(y.shape),
            "output": y.flatten().tolist(),
            "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()},
            "num_batches_tracked": {k: int(v) for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")},
        }
    with open(f"{HERE}/expected.json", "w") as f:
        json.dump(expected, f)
    print("wrote", ", ".join(expected))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--check-cnn":
        check(sys.argv[2], "cnn", cnn)
    else:
        main()
