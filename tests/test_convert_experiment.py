"""The worked result (experiments/conversion.py) at small settings: the qualitative facts it measures."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dsconv.experiments import conversion


@pytest.fixture(scope="module")
def result() -> dict:
    cfg = dataclasses.replace(conversion.Config(), width=8, epochs=4, ranks=(1, 4), energies=())
    return conversion.run(cfg)


def test_full_rank_conversion_keeps_accuracy(result):
    dense, full = result["dense"], result["rows"][0]
    assert full["setting"] == "rank=9 (forced)" and full["ranks"] == [8, 9, 9]  # min(C_out, 9) per conv
    assert full["output_error"] < 1e-5
    assert full["acc_converted"] == pytest.approx(dense["acc"], abs=1 / 360)  # at most one borderline image
    assert full["macs"] > dense["macs"]  # exact, but not cheaper: the reason conversions use low ranks


def test_low_rank_loses_accuracy_that_fine_tuning_recovers(result):
    rows = {r["setting"]: r for r in result["rows"]}
    rank4 = rows["rank=4"]
    assert rows["rank=1"]["macs"] < rank4["macs"] < result["dense"]["macs"]
    assert rank4["acc_converted"] < result["dense"]["acc"] - 0.1
    assert rank4["acc_finetuned"] > rank4["acc_converted"] + 0.2
    # Reusing the trained weights beats training the same separable layers for as long from scratch.
    assert rank4["acc_finetuned"] > rank4["acc_scratch"] + 0.1


def test_result_is_json_and_has_a_verdict(result):
    text = json.dumps(result)
    assert "Full-rank conversion" in result["verdict"] and "| setting |" in result["table"]
    assert json.loads(text)["rows"][0]["ranks"] == [8, 9, 9]


def test_config_validation():
    with pytest.raises(ValueError, match=r"`energies` must be in \(0, 1\]. Received energies=1.5"):
        conversion.Config(energies=(1.5,))
    with pytest.raises(ValueError, match="`finetune_epochs` must be >= 0. Received finetune_epochs=-1"):
        conversion.Config(finetune_epochs=-1)
