"""bfloat16 inference: the optimized modules and ``dsconv.optimize(..., dtype=torch.bfloat16)``.

The depthwise kernel rounds its float32 result once; oneDNN's bfloat16 products take bfloat16 operands and
accumulate in float32. The references below compute the same thing in float32 from the same rounded operands,
so they differ from the modules by the final rounding and the summation order only.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch
from torch import nn

import dsconv
import dsconv.kernels.modules as modules
from dsconv.kernels import _bf16
from dsconv.kernels.fused import FusedSeparableParams
from dsconv.kernels.modules import ConvAct2d, FusedSeparable2d, KernelDepthwise2d, bf16_available
from dsconv.kernels.optimize import optimize

needs_bf16 = pytest.mark.skipif(not bf16_available(), reason="oneDNN here has no bfloat16 products")
BF16_EPS = 2.0 ** -8  # half a bfloat16 ulp, relative


def _round(t: torch.Tensor) -> torch.Tensor:
    return t.bfloat16().float()


def _act(y: torch.Tensor, act: str) -> torch.Tensor:
    return y.relu() if act == "relu" else y.clamp(0, 6) if act == "relu6" else y


def _block(c: int, c_out: int, stride: int, act_dw: str, act_pw: str, matmul: str) -> FusedSeparable2d:
    gen = torch.Generator().manual_seed(0)
    return FusedSeparable2d(torch.randn(c, 1, 3, 3, generator=gen), torch.randn(c, generator=gen),
                            torch.randn(c_out, c, 1, 1, generator=gen) / c ** 0.5, torch.randn(c_out, generator=gen),
                            stride, 1, 1, act_dw, act_pw, matmul=matmul)


def _reference(block: FusedSeparable2d, x: torch.Tensor) -> torch.Tensor:
    """The block in float32 on ``x`` widened, the depthwise output and the pointwise operands rounded to
    bfloat16 where the module rounds them."""
    c = x.shape[1]
    d = nn.functional.conv2d(x.float(), block.dw_weight, block.dw_bias, block.stride, block.padding, 1, c)
    d = _round(_act(d, block.act_dw))
    y = nn.functional.conv2d(d, _round(block.pw_weight), _round(block.pw_bias))
    return _act(y, block.act_pw)


def test_depthwise_stage_rounds_the_float32_result_once():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 7, 24), dtype=np.float32)  # (N, H, W, C)
    params = FusedSeparableParams.prepare(x.shape, rng.standard_normal((24, 1, 3, 3), dtype=np.float32),
                                          rng.standard_normal((5, 24, 1, 1), dtype=np.float32),
                                          rng.standard_normal(24, dtype=np.float32), stride=2, padding=1,
                                          act_dw="relu6")
    bits = _bf16.to_bits(x)
    out = params.depthwise(bits)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, _bf16.to_bits(params.depthwise(_bf16.from_bits(bits))))


@pytest.mark.parametrize("multiplier", [1, 2])
def test_kernel_depthwise_module_in_bfloat16_is_the_rounded_float32_result(multiplier):
    gen = torch.Generator().manual_seed(1)
    cm = 8 * multiplier
    m = KernelDepthwise2d(torch.randn(cm, 1, 3, 3, generator=gen), torch.randn(cm, generator=gen), (2, 1), 1, 1, "relu6")
    x = torch.randn(2, 8, 9, 10, generator=gen).bfloat16()
    with torch.no_grad():
        y = m(x)
        assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y, m(x.float()).bfloat16(), rtol=0, atol=0)


@pytest.mark.parametrize("matmul, packed", [("onednn", True), ("onednn", False), ("torch", False)])
@pytest.mark.parametrize("stride, act_dw, act_pw", [(1, "relu", "relu"), (2, "relu6", "none")])
def test_fused_block_in_bfloat16_matches_the_rounded_float32_reference(monkeypatch, matmul, packed, stride, act_dw,
                                                                       act_pw):
    if packed and not bf16_available():
        pytest.skip("oneDNN here has no bfloat16 products")
    if not packed:  # oneDNN without bfloat16 (or matmul="torch"): the module falls back to F.linear
        monkeypatch.setattr(modules, "bf16_available", lambda: False)
    block = _block(16, 12, stride, act_dw, act_pw, matmul)
    x = torch.randn(3, 16, 11, 9).bfloat16()
    with torch.no_grad():
        y = block(x)
        assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
        assert block._plan(x)[1][-1] is packed
        ref = _reference(block, x)
        torch.testing.assert_close(y.float(), ref, rtol=2 * BF16_EPS, atol=1e-3)
        torch.testing.assert_close(block(x.float()), _act(nn.functional.conv2d(  # float32 still float32
            _act(nn.functional.conv2d(x.float(), block.dw_weight, block.dw_bias, stride, 1, 1, 16), act_dw),
            block.pw_weight, block.pw_bias), act_pw), rtol=1e-4, atol=1e-4)


@needs_bf16
@pytest.mark.parametrize("kernel, stride, padding, groups, pointwise, c_in", [
    (3, 2, 1, 1, False, 8), (3, 2, 1, 1, False, 3), (1, 1, 0, 1, True, 8)])  # 3: a stem, dsconv's pixel loop
def test_conv_act_in_bfloat16_runs_on_onednn_and_matches_pytorch(kernel, stride, padding, groups, pointwise, c_in):
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, 6, kernel, stride=stride, padding=padding, groups=groups)
    block = ConvAct2d(conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, groups, "relu6")
    x = torch.randn(2, c_in, 10, 10).bfloat16()
    with torch.no_grad():
        y = block(x)
        assert block._cache[("plan", x.shape, x.dtype)][0] is pointwise  # the oneDNN plan, not the fallback
        ref = nn.functional.conv2d(x.float(), _round(conv.weight), _round(conv.bias), stride, padding).clamp(0, 6)
        assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y.float(), ref, rtol=2 * BF16_EPS, atol=1e-3)


def _model(name: str) -> nn.Module:
    from dsconv.kernels.bench.models import calibrate_batch_norms

    torch.manual_seed(0)
    model = dsconv.create_model(name, width=0.5, num_classes=10, resolution=64)
    calibrate_batch_norms(model, 64)
    return model.eval()


def _relative_errors(fast: nn.Module, model: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """Relative L2 errors of ``fast(x)`` and of PyTorch's bfloat16 ``model`` against ``model`` in float32."""
    ref = copy.deepcopy(model).float()(x)
    y = fast(x)
    assert y.dtype == torch.bfloat16
    theirs = copy.deepcopy(model).bfloat16()(x.bfloat16()).float()
    return float((y.float() - ref).norm() / ref.norm()), float((theirs - ref).norm() / ref.norm())


@needs_bf16
@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_optimized_bfloat16_model_is_as_close_to_float32_as_pytorchs_bfloat16(name):
    model = _model(name)
    fast = optimize(model, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in fast.parameters())  # the head and the unfused layers
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the original is untouched
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x.bfloat16()), fast(x), rtol=0, atol=0)  # a float32 input is cast
        ours, theirs = _relative_errors(fast, model, x)
    assert 0 < ours <= 1.5 * theirs, (ours, theirs)


@needs_bf16
def test_a_bfloat16_model_is_optimized_in_bfloat16_and_can_be_pickled():
    model = copy.deepcopy(_model("mobilenet_v1")).bfloat16()
    fast = optimize(model)  # no dtype: the model's
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours, theirs = _relative_errors(fast, model, x)
        # folding bfloat16 batch norms and rounding the folded weights again rounds twice where PyTorch's
        # eager model (batch norm apart) rounds once: 0.12 against 0.09 here
        assert 0 < ours <= 2 * theirs, (ours, theirs)
        y = fast(x)
        buf = io.BytesIO()
        torch.save(fast, buf)
        buf.seek(0)
        torch.testing.assert_close(torch.load(buf, weights_only=False)(x), y, rtol=0, atol=0)


def test_float64_target_and_dtype_errors():
    model = _model("mobilenet_v1")
    fast = optimize(model, dtype=torch.float64)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y = fast(x)
        assert y.dtype == torch.float64
        torch.testing.assert_close(y, copy.deepcopy(model).double()(x.double()), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match=r"`dtype` must be None, torch.float32, torch.float64 or torch.bfloat16. "
                                         r"Received dtype=torch.float16"):
        optimize(model, dtype=torch.float16)
    depthwise = KernelDepthwise2d(torch.zeros(4, 1, 3, 3), torch.zeros(4), 1, 1, 1, "relu")
    for m in (depthwise, _block(4, 2, 1, "relu", "relu", "auto")):
        with pytest.raises(TypeError, match=rf"`x` of {type(m).__name__} must be float32, float64 or bfloat16. "
                                            r"Received x.dtype=torch.float16"):
            m(torch.zeros(1, 4, 5, 5, dtype=torch.float16))
