"""A toy Hydra app standing in for ``neuralgraph.train`` in sweeper tests.

The reward is a noisy bowl over (log10 lr_k, log10 lr_node, batch_size) whose optimum moves with
``simulation.shift``; each run writes the run-directory files the sweeper and report read.
"""

import json
import math
import random
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    t = cfg.training
    if OmegaConf.select(cfg, "pre_sleep_s"):  # a job still running when its sweeper is killed
        time.sleep(float(cfg.pre_sleep_s))
    if t.fail:
        raise RuntimeError("toy failure requested by training.fail")
    shift = float(cfg.simulation.shift)
    x = math.log10(t.lr_k) + 2.5 - shift
    y = math.log10(t.lr_node) + 3.0
    noise = random.Random(int(t.seed)).gauss(0.0, 0.01)
    score = 1.0 - x * x / 2.0 - y * y / 4.0 - abs(math.log2(t.batch_size) - 3) * 0.02 + noise
    metrics = {"score": score, "test_pearson": min(1.0, score + 0.05), "final_loss": 1.0 - score,
               "status": "converged" if score > 0.9 else "partial"}
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "plots").mkdir(exist_ok=True)
    (out / "plots" / "loss.png").write_bytes(PNG_1PX)
    (out / "analysis.log").write_text("".join(f"{k}: {v}\n" for k, v in metrics.items()))
    (out / "metrics.json").write_text(json.dumps(metrics))
    if OmegaConf.select(cfg, "sleep_s"):
        time.sleep(float(cfg.sleep_s))
    return metrics


if __name__ == "__main__":
    main()
