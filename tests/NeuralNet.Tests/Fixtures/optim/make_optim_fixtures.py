"""Reference trajectories for NeuralNet's optimizers, schedules and gradient clipping, computed with torch 1.13.

Run with Debian's Python (torch 1.13):  /usr/bin/python3 make_optim_fixtures.py
Writes optimizers.json, schedules.json and clipping.json next to this script. The tests read them; CI needs no PyTorch.

Every number is written with repr (round-trip exact). Gradients are drawn once (float32-representable values, so the
float32 and float64 runs see the same inputs) and stored, so the C# side does not reimplement torch's generator.
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 25
SHAPES = [[3, 5], [5], [40]]


def draws(seed):
    g = torch.Generator().manual_seed(seed)
    init = [torch.randn(s, generator=g, dtype=torch.float32) for s in SHAPES]
    grads = [[torch.randn(s, generator=g, dtype=torch.float32) * (1 + 0.5 * math.sin(t)) for s in SHAPES] for t in range(STEPS)]
    return init, grads


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def rates(t):
    # a changing learning rate per group: group 0 oscillates, group 1 decays
    return [0.05 * (1 + 0.5 * math.cos(0.7 * t)), 0.02 * 0.93 ** t]


OPTIMIZERS = [
    ("sgd_plain", "Sgd", dict(), [0.0, 0.0]),
    ("sgd_momentum_decay", "Sgd", dict(momentum=0.9), [1e-2, 0.0]),
    ("sgd_dampening", "Sgd", dict(momentum=0.8, dampening=0.3), [5e-3, 1e-3]),
    ("sgd_nesterov", "Sgd", dict(momentum=0.9, nesterov=True), [1e-2, 0.0]),
    ("sgd_decay_only", "Sgd", dict(), [0.05, 0.01]),
    ("adam", "Adam", dict(betas=(0.9, 0.999), eps=1e-8), [1e-2, 0.0]),
    ("adam_amsgrad", "Adam", dict(betas=(0.8, 0.99), eps=1e-6, amsgrad=True), [1e-2, 1e-3]),
    ("adamw", "AdamW", dict(betas=(0.9, 0.999), eps=1e-8), [0.1, 0.0]),
    ("adamw_amsgrad", "AdamW", dict(betas=(0.85, 0.995), eps=1e-7, amsgrad=True), [0.05, 0.01]),
    ("rmsprop", "RmsProp", dict(alpha=0.99, eps=1e-8), [1e-2, 0.0]),
    ("rmsprop_momentum_centered", "RmsProp", dict(alpha=0.9, eps=1e-6, momentum=0.8, centered=True), [1e-2, 1e-3]),
    ("rmsprop_momentum", "RmsProp", dict(alpha=0.95, eps=1e-8, momentum=0.5), [0.0, 0.02]),
]


def run_optimizer(kind, hyper, decays, dtype, init, grads):
    params = [torch.nn.Parameter(t.to(dtype).clone()) for t in init]
    # group 0: the weight and the long vector; group 1: the bias (as a "no decay on biases" split would give, here with its own decay)
    groups = [dict(params=[params[0], params[2]], lr=rates(0)[0], weight_decay=decays[0]),
              dict(params=[params[1]], lr=rates(0)[1], weight_decay=decays[1])]
    torch_name = {"Sgd": "SGD", "RmsProp": "RMSprop"}.get(kind, kind)  # NeuralNet's class names -> torch's
    opt = getattr(torch.optim, torch_name)(groups, **hyper)
    trajectory = []
    for t in range(STEPS):
        for gi, group in enumerate(opt.param_groups):
            group["lr"] = rates(t)[gi]
        for p, g in zip(params, grads[t]):
            p.grad = g.to(dtype).clone()
        opt.step()
        trajectory.append([flat(p) for p in params])
    return trajectory


def optimizers():
    init, grads = draws(1234)
    out = dict(steps=STEPS, shapes=SHAPES, groups=[[0, 2], [1]],
               init=[flat(t) for t in init],
               grads=[[flat(g) for g in step] for step in grads],
               rates=[rates(t) for t in range(STEPS)],
               cases=[])
    for name, kind, hyper, decays in OPTIMIZERS:
        case = dict(name=name, kind=kind, decays=decays,
                    hyper={k: (list(v) if isinstance(v, tuple) else v) for k, v in hyper.items()})
        for dtype, key in ((torch.float64, "float64"), (torch.float32, "float32")):
            case[key] = run_optimizer(kind, hyper, decays, dtype, init, grads)
        out["cases"].append(case)
    return out


def schedules():
    cases = []

    def trace(name, build, steps, params=None, optimizer="sgd"):
        base = [0.1, 0.03]
        ps = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
        groups = [dict(params=[ps[0]], lr=base[0]), dict(params=[ps[1]], lr=base[1])]
        opt = torch.optim.Adam(groups, lr=base[0]) if optimizer == "adam" else torch.optim.SGD(groups, lr=base[0], momentum=0.9)
        sched = build(opt)

        def momentum():
            g = opt.param_groups[0]
            return g["betas"][0] if "betas" in g else g["momentum"]

        lrs = [[g["lr"] for g in opt.param_groups]]
        momenta = [momentum()]
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
            momenta.append(momentum())
        cases.append(dict(name=name, base=base, params=params or {}, optimizer=optimizer, lrs=lrs, momenta=momenta))

    S = torch.optim.lr_scheduler
    trace("step", lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12, dict(step_size=3, gamma=0.5))
    trace("exponential", lambda o: S.ExponentialLR(o, gamma=0.9), 12, dict(gamma=0.9))
    trace("cosine", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 25, dict(t_max=10, eta_min=0.001))
    trace("cosine_zero_min", lambda o: S.CosineAnnealingLR(o, T_max=7), 7, dict(t_max=7, eta_min=0.0))
    trace("warm_restarts", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.002), 23, dict(t_0=5, t_mult=1, eta_min=0.002))
    trace("warm_restarts_mult2", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2), 30, dict(t_0=3, t_mult=2, eta_min=0.0))
    trace("linear_warmup", lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4), 8, dict(warmup=4, start_factor=0.25))
    trace("warmup_then_cosine",
          lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=15, eta_min=1e-4)], milestones=[5]),
          20, dict(warmup=5, start_factor=0.1, t_max=15, eta_min=1e-4))
    trace("warmup_then_step",
          lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=3), S.StepLR(o, step_size=2, gamma=0.5)], milestones=[3]),
          12, dict(warmup=3, start_factor=0.5, step_size=2, gamma=0.5))
    for strategy, three in (("cos", False), ("linear", False), ("cos", True), ("linear", True)):
        name = f"onecycle_{strategy}" + ("_three" if three else "")
        trace(name, lambda o, s=strategy, t=three: S.OneCycleLR(o, max_lr=[0.1, 0.03], total_steps=40, pct_start=0.3, anneal_strategy=s,
                                                                 cycle_momentum=False, div_factor=25.0, final_div_factor=1e4, three_phase=t),
              40, dict(total=40, pct_start=0.3, anneal=strategy, div=25.0, final_div=1e4, three_phase=three))
    trace("onecycle_custom", lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.03], total_steps=17, pct_start=0.4, cycle_momentum=False,
                                                    div_factor=10.0, final_div_factor=100.0),
          17, dict(total=17, pct_start=0.4, anneal="cos", div=10.0, final_div=100.0, three_phase=False))
    trace("onecycle_momentum_sgd", lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.03], total_steps=30, pct_start=0.25),
          30, dict(total=30, pct_start=0.25, anneal="cos", div=25.0, final_div=1e4, three_phase=False, cycle_momentum=True,
                   base_momentum=0.85, max_momentum=0.95))
    trace("onecycle_beta1_adam_three_linear", lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.03], total_steps=30, pct_start=0.3,
                                                                     anneal_strategy="linear", three_phase=True,
                                                                     base_momentum=0.8, max_momentum=0.9),
          30, dict(total=30, pct_start=0.3, anneal="linear", div=25.0, final_div=1e4, three_phase=True, cycle_momentum=True,
                   base_momentum=0.8, max_momentum=0.9), optimizer="adam")
    return dict(cases=cases)


def clipping():
    g = torch.Generator().manual_seed(99)
    cases = []
    for name, scale, max_norm, norm_type in (("norm_clipped", 3.0, 1.0, 2.0), ("norm_unclipped", 0.01, 10.0, 2.0),
                                              ("inf_clipped", 2.0, 0.5, math.inf)):
        raw = [torch.randn(s, generator=g, dtype=torch.float32) * scale for s in SHAPES]
        case = dict(name=name, max_norm=max_norm, norm_type="inf" if math.isinf(norm_type) else norm_type, grads=[flat(t) for t in raw])
        for dtype, key in ((torch.float64, "float64"), (torch.float32, "float32")):
            ps = [torch.nn.Parameter(torch.zeros(s, dtype=dtype)) for s in SHAPES]
            for p, r in zip(ps, raw):
                p.grad = r.to(dtype).clone()
            total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
            case[key] = dict(total_norm=float(total), grads=[flat(p.grad) for p in ps])
        cases.append(case)
    raw = [torch.randn(s, generator=g, dtype=torch.float32) for s in SHAPES]
    case = dict(name="value", clip_value=0.7, grads=[flat(t) for t in raw])
    for dtype, key in ((torch.float64, "float64"), (torch.float32, "float32")):
        ps = [torch.nn.Parameter(torch.zeros(s, dtype=dtype)) for s in SHAPES]
        for p, r in zip(ps, raw):
            p.grad = r.to(dtype).clone()
        torch.nn.utils.clip_grad_value_(ps, 0.7)
        case[key] = dict(grads=[flat(p.grad) for p in ps])
    cases.append(case)
    return dict(shapes=SHAPES, cases=cases)


def write(name, data):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(data, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    write("optimizers.json", optimizers())
    write("schedules.json", schedules())
    write("clipping.json", clipping())
    print("torch", torch.__version__)
