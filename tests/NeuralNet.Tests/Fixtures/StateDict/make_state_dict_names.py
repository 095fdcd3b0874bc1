"""Writes state_dict_names.json: the state_dict keys and shapes PyTorch gives the layer structures the tests rebuild.

Run with Debian's PyTorch: /usr/bin/python3 make_state_dict_names.py
"""
import json
import torch.nn as nn

models = {
    # Dense(4 -> 3), ReLU, Dense(3 -> 2)
    "mlp": nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)),
    # Conv2D(1 -> 2, k3), ReLU, MaxPool2D(2), Flatten, then a nested chain Dense(8 -> 5), Tanh, Dense(5 -> 3, no bias)
    "nested": nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Sequential(nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3, bias=False))),
}
out = {name: [[k, list(v.shape)] for k, v in m.state_dict().items()] for name, m in models.items()}
with open("state_dict_names.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
