"""Makes the PyTorch fixtures of NeuralNet.Onnx.Tests (run with Debian's /usr/bin/python3: torch 1.13, onnx 1.12).

    /usr/bin/python3 make_fixtures.py            # writes mlp.onnx, lenet.onnx, *.safetensors and expected.json
    /usr/bin/python3 make_fixtures.py --check F  # loads a NeuralNet-written torch-layout safetensors file F into
                                                 # the LeNet-5 below and checks its outputs against expected.json

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


def write_safetensors(path, state, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
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
        assert info["dtype"] == "F32", (name, info["dtype"])
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def fixed_input(shape):
    g = torch.Generator().manual_seed(7)
    return torch.rand(shape, generator=g) * 2 - 1


def check(path):
    with open(f"{HERE}/expected.json") as f:
        expected = json.load(f)["lenet"]
    model = lenet().eval()
    model.load_state_dict(read_safetensors(path), strict=True)
    x = torch.tensor(expected["input"]).reshape(expected["input_shape"])
    y = model(x).detach().flatten()
    want = torch.tensor(expected["output"])
    err = ((y - want).abs() / want.abs().clamp(min=1)).max().item()
    print(f"{path}: load_state_dict(strict=True) ok, max relative error {err:.3g}")
    sys.exit(0 if err <= 1e-5 else 1)


def main():
    torch.manual_seed(20241206)
    expected = {}
    for name, make, shape in (("mlp", mlp, [3, 12]), ("lenet", lenet, [3, 1, 28, 28])):
        model = make().eval()
        x = fixed_input(shape)
        with torch.no_grad():
            y = model(x)
        torch.onnx.export(model, x, f"{HERE}/{name}.onnx", opset_version=13,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        write_safetensors(f"{HERE}/{name}.safetensors", model.state_dict(), {"format": "pt"})
        # Self-check of the hand-written layout: reading it back gives the same state dict.
        back = read_safetensors(f"{HERE}/{name}.safetensors")
        for k, v in model.state_dict().items():
            assert torch.equal(back[k], v), k
        expected[name] = {
            "input_shape": shape,
            "input": x.flatten().tolist(),
            "output_shape": list(y.shape),
            "output": y.flatten().tolist(),
            "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()},
        }
    with open(f"{HERE}/expected.json", "w") as f:
        json.dump(expected, f)
    print("wrote", ", ".join(expected))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main()
