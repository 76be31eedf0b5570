"""Adam for N_ADAM steps, then full-batch L-BFGS (strong Wolfe) for N_LBFGS outer steps on the same
loss (data + regularisers, signs projected after each): does a faster fit of dc/dt give a better S?

    python benchmarks/results/robustness_tiny_S_learning/speed/lbfgs_probe.py SIM_SEED N_ADAM N_LBFGS

Prints the data loss and the truth-free stoichiometry_R2 (the run's live metric) as it goes.
"""

import sys
import time

import torch

from neuralgraph.family import TrainClock, get_family
from neuralgraph.launch import compose_regime
from neuralgraph.train import typed
from neuralgraph.trainer import _step, make_scheduler

torch.set_num_threads(1)
sim, n_adam, n_lbfgs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cfg = typed(compose_regime("tiny_metabolism_S_learning", f"simulation.seed={sim}"))
fam = get_family(cfg.simulation.family)
arrays = fam.simulate(cfg.simulation)
torch.manual_seed(42)
model, data = fam.build(arrays, cfg, torch.device("cpu"))
t = cfg.training
opt = torch.optim.Adam(fam.param_groups(model, t))
sch = make_scheduler(opt, t, n_adam)
g = torch.Generator().manual_seed(42)
t0 = time.perf_counter()
for step in range(n_adam):
    idx = torch.randint(0, data.n_frames, (t.batch_size,), generator=g)
    lp, _, _ = _step(fam, model, data.batch(idx), data.target_scale, t, TrainClock(0, step, n_adam), opt, sch)
    if (step + 1) % 1000 == 0:
        print(f"adam {step + 1} loss {lp.item():.2e} R2 {fam.live_metric(model, arrays):.4f} "
              f"{time.perf_counter() - t0:.0f}s", flush=True)

full = data.batch(torch.arange(data.n_frames))
clock = TrainClock(10, n_adam, n_adam)


def total():
    pred = model(full)
    lp = ((pred - full["y"]) / data.target_scale).pow(2).mean()
    return lp + sum(fam.regularizers(model, full, pred, t, clock).values()), lp


lbfgs = torch.optim.LBFGS([p for p in model.parameters() if p.numel()], lr=1.0, max_iter=50, history_size=50,
                          line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)


def closure():
    lbfgs.zero_grad()
    loss, _ = total()
    loss.backward()
    return loss


for k in range(n_lbfgs):
    lbfgs.step(closure)
    fam.after_step(model, t)
    if (k + 1) % 5 == 0 or k == n_lbfgs - 1:
        with torch.no_grad():
            _, lp = total()
        print(f"lbfgs {k + 1} loss {lp.item():.2e} R2 {fam.live_metric(model, arrays):.4f} "
              f"{time.perf_counter() - t0:.0f}s", flush=True)
