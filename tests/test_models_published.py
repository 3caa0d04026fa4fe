"""The zoo reproduces the published cost figures (dsconv.models._published) through dsconv.cost.profile."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dsconv.cost import profile  # noqa: E402
from dsconv.cost.zoo import measure_published, zoo_figures, zoo_json, zoo_markdown  # noqa: E402
from dsconv.models import create_model  # noqa: E402
from dsconv.models._published import (  # noqa: E402
    DEEPLAB_SEPARABLE_HEAD,
    PERCEPTION_BUDGET,
    PUBLISHED,
    Published,
)


def _figure(entry: Published) -> float:
    return measure_published(entry)


@pytest.mark.parametrize("entry", PUBLISHED, ids=[e.label for e in PUBLISHED])
def test_published_figure(entry: Published) -> None:
    figure = _figure(entry)
    if entry.reproduced:
        assert entry.matches(figure), f"{entry.label}: measured {figure:,.0f}, published {entry.value:,.0f}"
    else:  # an honest, documented gap: pin the faithful figure and check the gap is real
        assert entry.measured is not None and entry.note
        assert figure == pytest.approx(entry.measured, rel=1e-3)
        assert not entry.matches(figure)


def test_deeplab_separable_head_saving() -> None:
    name = DEEPLAB_SEPARABLE_HEAD["model"]
    separable = create_model(name)
    dense_head = create_model(name, dense_head=True)
    size = separable.default_input_size
    reduction = 1 - profile(separable, size).macs / profile(dense_head, size).macs
    assert reduction == pytest.approx(DEEPLAB_SEPARABLE_HEAD["measured_reduction"], abs=1e-3)
    assert reduction > 0.33  # at least the paper's lower bound


def test_perception_budget() -> None:
    model = create_model(PERCEPTION_BUDGET["model"])
    assert model.default_input_size == (3, 224, 224)
    macs = profile(model, model.default_input_size).macs
    assert macs < PERCEPTION_BUDGET["max_macs"]
    assert macs == pytest.approx(PERCEPTION_BUDGET["measured_macs"], rel=1e-3)


def test_every_family_has_a_cheaper_separable_form() -> None:
    for name, kwargs in (("mobilenet_v1", {}), ("mobilenet_v2", {}), ("ds_cnn_s", {}), ("xception", {"width": 0.25})):
        sep = create_model(name, **kwargs)
        dense = create_model(name, dense=True, **kwargs)
        size = sep.default_input_size
        assert profile(sep, size).macs < profile(dense, size).macs, name


def test_zoo_table_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from dsconv.cli import main

    rows = zoo_figures("ds_cnn_s")
    assert {row.quantity for row in rows} == {"kws_memory", "kws_ops"} and all(row.reproduced for row in rows)
    table = zoo_markdown(rows)
    assert table.startswith("| model | args | figure | paper | dsconv | reproduced | note |")
    assert "| ds_cnn_s |  | memory (B) | 38.6K | 38.6K | yes |" in table
    assert [row["quantity"] for row in json.loads(zoo_json(rows))] == ["kws_memory", "kws_ops"]
    assert main(["zoo", "ds_cnn_s", "--published"]) == 0
    assert "38.6K" in capsys.readouterr().out
    assert main(["zoo", "ds_cnn_*"]) == 0
    assert "ds_cnn_m" in capsys.readouterr().out
    assert main(["zoo", "resnet*"]) == 2
    assert "`pattern` matched no registered model. Received pattern='resnet*'" in capsys.readouterr().err
