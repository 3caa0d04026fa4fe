"""dsconv.optimize: the optimized copy computes what the original computes in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dsconv
import dsconv.nn as dnn
from dsconv.kernels.modules import FusedSeparable2d, KernelDepthwise2d
from dsconv.kernels.optimize import optimize


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics, so that folding is actually checked."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
    return model


def _count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def test_mobilenet_v1_matches_eval_model():
    torch.manual_seed(0)
    model = _randomize_bn(dsconv.create_model("mobilenet_v1", width=0.25, num_classes=10, resolution=64)).eval()
    fast = dsconv.optimize(model)
    assert _count(fast, FusedSeparable2d) == 13
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert model.training is False and _count(model, nn.BatchNorm2d) > 0  # the original is untouched
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)
    assert not any(p.requires_grad for p in fast.parameters())


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"])
def test_inverted_residuals_fuse_depthwise_and_projection_without_squeeze_excite(name):
    """MobileNetV2's inverted residuals (no squeeze-excite) run the depthwise stage and the linear projection as
    one fused block; blocks with squeeze-excite (MobileNetV3, EfficientNet) keep them apart. The residual
    shortcut stays, and the optimized model computes the original's function."""
    from dsconv.nn.blocks import InvertedResidual

    torch.manual_seed(0)
    model = _randomize_bn(dsconv.create_model(name, width=0.5, num_classes=10, resolution=64)).eval()
    fast = dsconv.optimize(model)
    blocks = [m for m in fast.modules() if isinstance(m, InvertedResidual)]
    fused = [b for b in blocks if isinstance(b.conv_dw, FusedSeparable2d)]
    assert all(isinstance(b.se, nn.Identity) and isinstance(b.conv_pwl, nn.Identity) for b in fused)
    with_se = [b for b in blocks if not isinstance(b.se, nn.Identity)]
    assert not any(isinstance(b.conv_dw, FusedSeparable2d) for b in with_se)
    if name == "mobilenet_v2":
        assert len(fused) == len(blocks) == 17 and _count(fast, KernelDepthwise2d) == 0
    else:
        assert with_se and _count(fast, KernelDepthwise2d) > 0
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


def test_containers_left_with_one_module_are_replaced_by_it():
    """A plain Sequential reduced to one module and Identity placeholders is replaced by that module; one with
    its own forward or hooks is kept (its forward or hooks still run)."""

    class Doubling(nn.Sequential):
        def forward(self, x):
            return 2 * super().forward(x)

    calls = []
    hooked = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4), nn.ReLU())
    hooked.register_forward_hook(lambda m, a, out: calls.append(1))
    model = nn.Sequential(
        nn.Conv2d(3, 4, 1),
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4), nn.ReLU()),
        Doubling(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4)),
        hooked,
    )
    _randomize_bn(model).eval()
    fast = optimize(model)
    assert isinstance(fast[1], KernelDepthwise2d)  # the container is gone
    assert isinstance(fast[2], Doubling) and isinstance(fast[2][0], KernelDepthwise2d)
    assert isinstance(fast[3], nn.Sequential) and isinstance(fast[3][0], KernelDepthwise2d)
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)
    assert len(calls) == 2  # the hook ran in the original and in the optimized copy


def test_sequential_patterns_and_unknown_modules_left_alone():
    class Gate(nn.Module):  # unknown to optimize: must be kept as is
        def forward(self, x):
            return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 12, 1, bias=False), nn.BatchNorm2d(12),
        Gate(),
        nn.Conv2d(12, 24, 3, padding=1, groups=12), nn.BatchNorm2d(24), nn.Hardtanh(0.0, 6.0),
        nn.Conv2d(24, 24, 3, padding=1, groups=24), nn.SiLU(),  # SiLU cannot be fused: dw alone, SiLU kept
        nn.Conv2d(24, 4, 1),
    )
    _randomize_bn(model).eval()
    fast = optimize(model)
    assert _count(fast, FusedSeparable2d) == 1 and _count(fast, KernelDepthwise2d) == 2
    assert _count(fast, Gate) == 1 and _count(fast, nn.SiLU) == 1
    x = torch.randn(1, 3, 13, 11)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


def test_separable_conv2d_layer_and_channels_first_option():
    torch.manual_seed(0)
    block = dnn.SeparableConv2d(4, 6, 3, stride=2, padding="same", depth_multiplier=2,
                                norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU, norm_dw=True, act_dw=True, bias=False)
    _randomize_bn(block).eval()
    for channels_last in (True, False):
        fast = optimize(block, channels_last=channels_last)
        assert isinstance(fast, FusedSeparable2d)
        x = torch.randn(2, 4, 9, 10)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), block(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("matmul", ["torch", "numpy", "onednn", "mkl"])
def test_float64_model_and_matmul_choice(matmul):  # oneDNN and MKL's block: no float64, so torch.addmm
    model = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, groups=3), nn.ReLU(), nn.Conv2d(3, 5, 1)).double().eval()
    fast = optimize(model, matmul=matmul)
    assert fast[0].matmul == matmul
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x))


def test_rejects_non_modules_and_unknown_matmul():
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module. Received model of type dict"):
        optimize({})
    with pytest.raises(ValueError, match=r"`matmul` must be one of 'auto', 'onednn', 'mkl', 'torch', 'numpy'. "
                                         r"Received matmul='blas'"):
        optimize(nn.Identity(), matmul="blas")


def test_rejects_float16_models_with_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 3, 3, groups=3), nn.BatchNorm2d(3), nn.Conv2d(3, 4, 1)).half()
    with pytest.raises(TypeError, match=r"`model` must have float32, float64 or bfloat16 parameters and buffers "
                                        r".*model.float\(\)\). Received 0.weight of dtype torch.float16"):
        optimize(model)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6, None])
@pytest.mark.parametrize("stride, batch", [(1, 1), (2, 3)])
def test_onednn_pointwise_matches_eager(act, stride, batch):
    layers = [nn.Conv2d(6, 12, 3, stride=stride, padding=1, groups=6), nn.BatchNorm2d(12), nn.ReLU6(),
              nn.Conv2d(12, 7, 1, bias=False), nn.BatchNorm2d(7)] + ([act()] if act else [])
    model = _randomize_bn(nn.Sequential(*layers)).eval()
    fast = optimize(model, matmul="onednn")
    assert isinstance(fast[0], FusedSeparable2d) and fast[0].matmul == "onednn"
    x = torch.randn(batch, 6, 11, 9)
    with torch.no_grad():
        y = fast(x)
        torch.testing.assert_close(y, model(x), rtol=1e-4, atol=1e-4)
        assert y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(fast(x[:1]), model(x[:1]), rtol=1e-4, atol=1e-4)  # a second shape: new packing


def test_onednn_unavailable_is_a_clear_error(monkeypatch):
    import dsconv.kernels.modules as modules

    monkeypatch.setattr(modules, "onednn_available", lambda: False)
    model = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, groups=3), nn.Conv2d(3, 4, 1)).eval()
    with pytest.raises(ValueError, match=r"`matmul`='onednn' needs a PyTorch build with oneDNN"):
        optimize(model, matmul="onednn")
    with pytest.raises(ValueError, match=r"`matmul`='mkl' needs a PyTorch build with MKL and oneDNN"):
        optimize(model, matmul="mkl")
    assert optimize(model)[0].matmul == "torch"  # "auto" falls back without an error


def test_mkl_unavailable_is_a_clear_error_and_auto_takes_onednn(monkeypatch):
    from dsconv.kernels import _mkl

    monkeypatch.setattr(_mkl, "available", lambda: False)
    model = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, groups=3), nn.Conv2d(3, 4, 1)).eval()
    with pytest.raises(ValueError, match=r"`matmul`='mkl' needs a PyTorch build with MKL and oneDNN"):
        optimize(model, matmul="mkl")
    assert optimize(model)[0].matmul == "onednn"


@pytest.mark.parametrize("act", ["none", "relu", "relu6"])
@pytest.mark.parametrize("kernel, stride, padding, dilation, groups", [
    (3, 2, 1, 1, 1), (1, 1, 0, 1, 1), (1, 2, 0, 1, 1), (3, 1, 2, 2, 1), (3, 1, 1, 1, 2), (5, 1, (2, 1), 1, 1)])
def test_conv_act_matches_conv_then_activation(act, kernel, stride, padding, dilation, groups):
    from dsconv.kernels.modules import ConvAct2d

    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    block = ConvAct2d(conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, groups, act)
    assert block.pointwise == (kernel == 1 and stride == 1 and groups == 1)
    with torch.no_grad():
        for x in (torch.randn(2, 4, 11, 9) * 4, torch.randn(1, 4, 8, 8).contiguous(memory_format=torch.channels_last)):
            ref = conv(x)
            ref = ref.relu() if act == "relu" else ref.clamp(0, 6) if act == "relu6" else ref
            y = block(x)
            torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)
            assert y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(block(x.double()), ref.double(), rtol=1e-4, atol=1e-4)  # float64: F.conv2d


@pytest.mark.parametrize("c_in", [2, 3, 4, 5])
def test_conv_act_converts_two_to_four_channel_images_pixel_by_pixel_and_in_parallel(c_in, count_calls):
    from dsconv.kernels import _layout
    from dsconv.kernels.modules import ConvAct2d

    parallel, serial = count_calls(_layout, "pixels_parallel"), count_calls(_layout, "pixels_serial")
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, 8, 3, stride=2, padding=1)
    block = ConvAct2d(conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, 1, "relu")
    big = torch.randn(2, c_in, 15, 18)
    with torch.no_grad():
        for x in (big, big[:, :, 1:, ::2], big.contiguous(memory_format=torch.channels_last)):
            y = block(x)
            torch.testing.assert_close(y, conv(x).relu(), rtol=1e-4, atol=1e-4)
            assert y.is_contiguous(memory_format=torch.channels_last)
    # the contiguous NCHW input goes through the pixel loop, in parallel (the strided one is copied by NumPy)
    assert (len(parallel), len(serial)) == ((1, 0) if c_in <= 4 else (0, 0))


def test_optimize_puts_other_convolutions_on_onednn_only_when_it_is_in_use():
    from dsconv.kernels.modules import ConvAct2d

    model = _randomize_bn(nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        dnn.PointwiseConv2d(8, 12), nn.BatchNorm2d(12), nn.ReLU(),
        nn.Conv2d(12, 12, 3, padding="same"),  # string padding: left to the BN-folding path
    )).eval()
    fast = optimize(model)
    kinds = [type(m).__name__ for m in fast]
    assert kinds[0] == "ConvAct2d" and kinds[3] == "ConvAct2d" and kinds[6] == "Conv2d"
    assert fast[0].act == "relu6" and fast[3].act == "relu" and fast[3].pointwise
    assert not any(isinstance(m, ConvAct2d) for m in optimize(model, matmul="torch").modules())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


def test_conv_act_rejects_unknown_activation_and_missing_onednn(monkeypatch):
    import dsconv.kernels.modules as modules

    w, b = torch.zeros(2, 2, 1, 1), torch.zeros(2)
    with pytest.raises(ValueError, match=r"`act` must be one of 'none', 'relu', 'relu6'. Received act='gelu'"):
        modules.ConvAct2d(w, b, (1, 1), (0, 0), (1, 1), 1, "gelu")
    monkeypatch.setattr(modules, "onednn_available", lambda: False)
    with pytest.raises(ValueError, match="ConvAct2d needs a PyTorch build with oneDNN"):
        modules.ConvAct2d(w, b, (1, 1), (0, 0), (1, 1), 1, "relu")


@pytest.mark.parametrize("matmul", ["auto", "torch", "numpy"])
def test_optimized_model_can_be_copied_and_pickled_after_running(matmul):
    import copy
    import io

    model = _randomize_bn(dsconv.create_model("mobilenet_v2", width=0.25, num_classes=5)).eval()
    fast = optimize(model, matmul=matmul)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        y = fast(x)  # fills the caches (packed oneDNN weights have no storage to copy)
        buf = io.BytesIO()
        torch.save(fast, buf)
        buf.seek(0)
        for other in (copy.deepcopy(fast), torch.load(buf, weights_only=False)):
            torch.testing.assert_close(other(x), y)
    assert all(not m._cache for m in copy.deepcopy(fast).modules() if hasattr(m, "_cache"))


def test_conv_act_rejects_a_wrong_input_shape():
    from dsconv.kernels.modules import ConvAct2d

    block = ConvAct2d(torch.zeros(6, 4, 3, 3), torch.zeros(6), (1, 1), (1, 1), (1, 1), 1, "relu")
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, 4, H, W\). Received x.shape=\(1, 3, 8, 8\)"):
        block(torch.zeros(1, 3, 8, 8))


@pytest.mark.parametrize("matmul", ["auto", "onednn", "torch", "numpy"])
def test_an_empty_batch_gives_an_empty_result_like_the_eager_model(matmul):
    from dsconv.kernels.modules import ConvAct2d

    for name in ("mobilenet_v1", "mobilenet_v2"):
        model = dsconv.create_model(name, width=0.25, num_classes=7).eval()
        fast = optimize(model, matmul=matmul)
        x = torch.randn(0, 3, 32, 32)
        with torch.no_grad():
            y = fast(x)
            assert y.shape == model(x).shape == (0, 7) and y.dtype == torch.float32
    block = ConvAct2d(torch.randn(6, 4, 1, 1), torch.randn(6), (1, 1), (0, 0), (1, 1), 1, "relu")
    kernel_dw = KernelDepthwise2d(torch.randn(8, 1, 3, 3), torch.randn(8), 2, 1, 1, "relu6")
    with torch.no_grad():
        assert block(torch.randn(0, 4, 8, 8)).shape == (0, 6, 8, 8)
        y = kernel_dw(torch.randn(0, 4, 9, 9))
        assert y.shape == (0, 8, 5, 5) and y.is_contiguous(memory_format=torch.channels_last)
