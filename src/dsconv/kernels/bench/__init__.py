"""``dsconv bench``: machine roofs, per-layer and whole-model benchmarks, written to ``benchmarks/``.

Entry points (the CLI only parses arguments and calls these):

- :func:`run_machine`: measure the roofs, write ``machine.json`` (a :class:`dsconv.cost.roofline.Machine`);
- :func:`run_layers`: depthwise forward (and with ``backward=True`` the gradients) on every MobileNetV1/V2
  depthwise shape, and the fused separable block on the V1 and V2 separable shapes;
- :func:`run_models`: MobileNetV1/V2 at batch 1 and 8, and the scaling sweep.

Every run sets the thread counts (Numba and PyTorch) to ``threads``, keeps freed memory in the allocator
(:func:`dsconv.kernels.bench.timing.retain_freed_memory`), interleaves implementations and reports medians.
"""

from __future__ import annotations

from pathlib import Path

from dsconv._validation import check_choice, check_positive


def _setup(threads: int) -> str:
    import numba
    import torch

    from dsconv.kernels.bench.timing import retain_freed_memory

    check_positive(threads, "threads")
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(threads)
    return retain_freed_memory()


def load_machine(out_dir: Path, *, quick: bool):
    """The machine file in ``out_dir`` if present, else a fresh (quick) measurement saved there."""
    from dsconv.cost.roofline import Machine

    path = out_dir / "machine.json"
    if path.is_file():
        return Machine.from_json(path)
    return run_machine(out_dir, quick=quick)


def run_machine(out_dir: Path, *, quick: bool = False, threads: int = 2):
    """Measure and save the roofs to ``out_dir/machine.json``; returns the ``Machine``."""
    from dsconv.kernels.bench import report
    from dsconv.kernels.bench.machine import CURVE_MIB, bandwidth_curve, measure_machine

    allocator = _setup(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the curve first: after the matrix product PyTorch's idle OpenMP workers may spin (the default wait policy)
    curve = bandwidth_curve((0.5, 8) if quick else CURVE_MIB, 3 if quick else 9)
    machine = measure_machine(quick=quick)
    machine.save(out_dir / "machine.json")
    env = report.environment(threads, allocator)
    md = (f"## Machine roofs\n\n{env_line(env)}\n| DRAM GB/s | cache GB/s | matmul GFLOP/s |\n|---|---|---|\n"
          f"| {machine.dram_gbs} | {machine.cache_gbs} | {machine.peak_gflops} |\n\n{machine.source}\n\n"
          "Parallel copy by footprint (source + destination; medians), the cache levels between the two above:\n\n"
          "| footprint MiB | " + " | ".join(f"{m:g}" for m in curve) + " |\n|---|" + "---|" * len(curve) + "\n"
          "| GB/s | " + " | ".join(f"{v:.1f}" for v in curve.values()) + " |\n")
    report.write_section(out_dir, "machine", md, {"env": env, "machine": vars(machine),
                                                   "copy_gbs_by_footprint_mib": {str(k): v for k, v in curve.items()}})
    return machine


def env_line(env: dict) -> str:
    from dsconv.kernels.bench.report import env_line as line

    return line(env)


def run_layers(out_dir: Path, *, quick: bool = False, backward: bool = False, batches: tuple[int, ...] = (1, 8),
               threads: int = 2, repeats: int | None = None, onnx: bool = True, only: str | None = None,
               progress=print) -> dict[str, list[dict]]:
    """Benchmark the layer shapes; writes the ``layers``/``separable`` (and ``backward``) sections and plots.

    ``only`` (``"forward"``, ``"separable"`` or ``"backward"``) runs and rewrites that section alone.
    """
    if only is not None:
        check_choice(only, ("forward", "separable", "backward"), "only")
    from dsconv.kernels.bench import layers as L
    from dsconv.kernels.bench import report

    from dsconv.kernels.bench.machine import launch_floor

    allocator = _setup(threads)
    machine = load_machine(out_dir, quick=quick)
    env = report.environment(threads, allocator)
    floor = launch_floor(200 if quick else 2000)
    repeats = repeats or (3 if quick else 30)
    cache = 2 << 20
    dw_shapes = [("mobilenet_v1", s) for s in (L.QUICK_DEPTHWISE if quick else L.V1_DEPTHWISE)]
    dw_shapes += [] if quick else [("mobilenet_v2", s) for s in L.V2_DEPTHWISE]
    run = {"forward": only in (None, "forward"), "separable": only in (None, "separable"),
           "backward": only == "backward" or (only is None and backward)}
    results: dict[str, list[dict]] = {"layers": [], "separable": [], "backward": []}
    for batch in batches:
        for family, (c, size, stride) in dw_shapes if run["forward"] else ():
            progress(f"depthwise {family} N={batch} C={c} {size}x{size} s{stride}")
            results["layers"].append(L.depthwise_row(family, batch, c, size, stride, machine, repeats=repeats,
                                                     threads=threads, cache_bytes=cache, onnx=onnx).to_dict())
        sep_shapes = ([("mobilenet_v1", s) for s in L.QUICK_SEPARABLE] if quick else
                      [("mobilenet_v1", s) for s in L.V1_SEPARABLE] + [("mobilenet_v2", s) for s in L.V2_SEPARABLE])
        for family, (c, c_out, size, stride) in sep_shapes if run["separable"] else ():
            progress(f"separable {family} N={batch} {c}->{c_out} {size}x{size} s{stride}")
            results["separable"].append(L.separable_row(batch, c, c_out, size, stride, machine, repeats=repeats,
                                                        cache_bytes=cache, family=family, threads=threads,
                                                        onnx=onnx).to_dict())
        if run["backward"]:
            for family, (c, size, stride) in dw_shapes:
                progress(f"backward {family} N={batch} C={c} {size}x{size} s{stride}")
                results["backward"].append(L.backward_row(family, batch, c, size, stride, machine, repeats=repeats,
                                                          cache_bytes=cache).to_dict())
    _write_layer_sections(out_dir, results, env, machine, floor)
    return results


def _write_layer_sections(out_dir: Path, results: dict, env: dict, machine, floor_s: float) -> None:
    from dsconv.kernels.bench import report

    roof = (f"Roofline per row (\"% roof\"): max(bytes / bandwidth, FLOPs / peak) with the machine file's figures "
            f"(cache {machine.cache_gbs} GB/s when input + output fit in 2 MiB, else DRAM {machine.dram_gbs} GB/s; "
            f"peak {machine.peak_gflops} GFLOP/s). Above 100% the bytes came from a cache level this two-level "
            "model leaves out (the last-level cache). The stream roof (\"% stream roof\") is max(stream, FLOPs / "
            "peak), where stream is the median of a parallel call that reads the row's input arrays and writes an "
            "array the size of its output, timed in the same rounds: what moving the row's bytes from where they "
            "are costs, the launch of one parallel call included.\n\n")
    titles = {"layers": "Depthwise 3x3 forward, per layer", "separable": "Fused separable block (dw+bias+act -> pw+bias+act)",
              "backward": "Depthwise 3x3 backward (input + weight gradients)"}
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for name, rows in results.items():
        if not rows:
            continue
        plot = report.plot_layers(rows, figures / f"{name}.png", titles[name])
        md = (f"## {titles[name]}\n\n{report.env_line(env)}{roof}"
              + report.layer_table(rows, "Results (times are medians of interleaved rounds)", floor_s)
              + f"\n![{name}](figures/{plot.name})\n")
        report.write_section(out_dir, name, md, {"env": env, "launch_floor_s": floor_s, "rows": rows})


DEFAULT_MODELS = ("mobilenet_v1", "mobilenet_v2", "perception_net")


def run_models(out_dir: Path, *, quick: bool = False, batches: tuple[int, ...] = (1, 8), threads: int = 2,
               repeats: int | None = None, scaling: bool = True, onnx: bool = True,
               models: tuple[str, ...] | None = None, progress=print) -> dict:
    """Benchmark whole models (and the scaling sweep); writes the ``models`` and ``scaling`` sections.

    ``models`` defaults to MobileNetV1/V2 and the robot perception encoder-decoder (``mobilenet_v1`` alone
    with ``quick``).
    """
    from dsconv.kernels.bench import report
    from dsconv.kernels.bench.models import model_row, scaling_rows

    allocator = _setup(threads)
    env = report.environment(threads, allocator)
    repeats = repeats or (2 if quick else 20)
    names = models or (("mobilenet_v1",) if quick else DEFAULT_MODELS)
    res, width = (64, 0.25) if quick else (224, 1.0)
    rows = []
    for name in names:
        for batch in batches:
            progress(f"model {name} N={batch} {res}x{res} width {width}")
            rows.append(model_row(name, batch, res, width, repeats=repeats, threads=threads, onnx=onnx).to_dict())
    md = (f"## Whole models (inference)\n\n{report.env_line(env)}\n"
          + report.model_table(rows, "Median ms per forward; x = dsconv.optimize's speed-up") + report.bf16_lines(rows))
    report.write_section(out_dir, "models", md, {"env": env, "rows": rows})
    out = {"models": rows}
    if scaling:
        progress("scaling sweep (mobilenet_v1)")
        srows = [r.to_dict() for r in scaling_rows("mobilenet_v1", quick=quick, repeats=repeats, threads=threads)]
        figures = out_dir / "figures"
        figures.mkdir(parents=True, exist_ok=True)
        plot = report.plot_scaling(srows, figures / "scaling.png")
        md = (f"## Scaling with batch, resolution and width (mobilenet_v1)\n\n{report.env_line(env)}\n"
              + report.model_table(srows, "Median ms per forward") + f"\n![scaling](figures/{plot.name})\n")
        report.write_section(out_dir, "scaling", md, {"env": env, "rows": srows})
        out["scaling"] = srows
    return out
