"""Scale-out: ``dsconv train`` under ``torchrun`` (2 CPU processes, gloo) matches a single-process run's first step.

With a global batch split over two ranks, DDP averages the two half-batch gradients, which equals the
full-batch gradient; the model has no batch norm (per-rank batch statistics would differ). One epoch of
32 samples (the gratings/rings task) at 16 per rank is exactly one optimizer step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from dsconv.train import TrainConfig, read_checkpoint, train  # noqa: E402

COMMON = ["dsconv.train.smallnet:small_cnn", "--data", "gratings_rings", "--limit", "32", "--epochs", "1",
          "--optimizer", "sgd", "--lr", "0.1", "--model-arg", "norm=False", "--model-arg", "width=8", "--no-progress"]


@pytest.mark.slow
def test_two_process_gloo_run_matches_single_process_first_step(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "dsconv", "train", *COMMON, "--batch-size", "16", "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len([line for line in done.stdout.splitlines() if line.startswith("{")]) == 1  # rank 0 prints only
    assert json.loads(done.stdout.strip().splitlines()[-1])["epochs"] == 1

    single = train(COMMON[0], "gratings_rings", TrainConfig(epochs=1, batch_size=32, optimizer="sgd", lr=0.1,
                                                            progress=False),
                   model_kwargs={"norm": False, "width": 8}, limit=32)
    payload = read_checkpoint(out / "last.pt")
    from dsconv.train.smallnet import small_cnn

    torch.manual_seed(0)
    init = small_cnn(num_classes=2, in_channels=3, norm=False, width=8).state_dict()
    assert any(not torch.equal(init[k], v) for k, v in single.model.state_dict().items())  # the step moved weights
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(payload["model_state"][key], value, rtol=1e-5, atol=1e-6)
    assert payload["history"][0]["train_loss"] == pytest.approx(single.history[0]["train_loss"], rel=1e-5)
    assert payload["config"]["batch_size"] == 16
