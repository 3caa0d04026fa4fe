"""The demo report: one self-contained HTML page (images as base64 data URIs) and ``results.json``.

The page opens from disk with no server and no network: every picture is embedded, there is no
script, and the only styles are inline. It shows, per experiment, the claim, what was measured (the
verdict), the pictures, the table if the result has one, and the raw result.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsconv._io import atomic_write_text

_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}.meta{color:#666;font-size:90%}section{border-top:1px solid #ddd;margin-top:2em}
.holds{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5em}
.fails{background:#fff3e0;border-left:4px solid #ef6c00;padding:.5em}
.error{background:#ffebee;border-left:4px solid #c62828;padding:.5em}
img{max-width:100%;display:block;margin:1em 0}table{border-collapse:collapse;font-size:85%}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}pre{font-size:75%;overflow:auto;max-height:30em}
"""


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by ``None`` and tuples by lists (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def data_uri(path: str | Path) -> str:
    """The file at ``path`` as a ``data:`` URI (PNG, GIF, SVG or JPEG)."""
    target = Path(path)
    mime = _MIME.get(target.suffix.lower())
    if mime is None:
        raise ValueError(f"`path` must be a .png, .gif, .svg or .jpg image. Received path={str(target)!r}")
    return f"data:{mime};base64,{base64.b64encode(target.read_bytes()).decode('ascii')}"


def markdown_table(text: str) -> str:
    """A pipe-delimited Markdown table as an HTML table (escaped); other text as a ``<pre>`` block."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) < 2 or not all(ln.startswith("|") for ln in lines):
        return f"<pre>{html.escape(text)}</pre>"
    cells = [[html.escape(c.strip()) for c in ln.strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _raw(result: dict[str, Any]) -> str:
    """The result as indented JSON, with long lists (curves, samples) shortened for reading."""

    def shorten(value: Any) -> Any:
        if isinstance(value, list) and len(value) > 12 and all(isinstance(v, (int, float)) for v in value):
            return [*value[:5], f"... {len(value) - 10} more ...", *value[-5:]]
        if isinstance(value, dict):
            return {k: shorten(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shorten(v) for v in value]
        return value

    return html.escape(json.dumps(shorten(json_safe(result)), indent=1))


def _section(entry: dict[str, Any]) -> str:
    """One experiment's section."""
    result = entry.get("result") or {}
    title = html.escape(str(entry.get("title") or entry["name"]))
    parts = [f"<section id='{html.escape(entry['name'])}'><h2>{title}</h2>",
             f"<p>{html.escape(str(entry.get('description', '')))}</p>",
             f"<p class='meta'>{html.escape(entry['name'])}: {entry.get('seconds', 0.0):.1f} s</p>"]
    if entry.get("error"):
        parts.append(f"<div class='error'><b>Failed:</b> {html.escape(entry['error'])}</div>")
    else:
        if result.get("claim"):
            parts.append(f"<p><b>Claim:</b> {html.escape(str(result['claim']))}</p>")
        css = "holds" if result.get("holds", True) else "fails"
        parts.append(f"<div class='{css}'><b>Measured:</b> {html.escape(str(result.get('verdict', '')))}</div>")
    for image in entry.get("figures", []):
        parts.append(f"<img src='{data_uri(image)}' alt='{html.escape(Path(image).stem)}'>")
    if isinstance(result.get("table"), str):
        parts.append(markdown_table(result["table"]))
    if result:
        parts.append(f"<details><summary>raw result</summary><pre>{_raw(result)}</pre></details>")
    return "\n".join(parts) + "</section>"


def render_html(entries: Sequence[dict[str, Any]], meta: dict[str, Any], *, gif: Path | None = None) -> str:
    """The whole page.

    Args:
        entries: per experiment ``{"name", "title", "description", "seconds", "result" | "error", "figures"}``.
        meta: run information shown in the header (``created``, ``seconds``, environment).
        gif: the depthwise animation to embed at the top, if any.

    Returns:
        The HTML text.
    """
    head = ", ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in meta.items())
    body = ["<h1>dsconv demo report</h1>", f"<p class='meta'>{head}</p>"]
    if gif is not None:
        body += ["<section id='animation'><h2>Depthwise vs standard convolution</h2>",
                 "<p>Left: each channel's own kernel slides over its own channel and writes its own output. "
                 "Right: one standard filter spans all channels and writes one output. Every number is computed "
                 "by the NumPy reference ops (dsconv.functional).</p>",
                 f"<img src='{data_uri(gif)}' alt='depthwise convolution animation'></section>"]
    toc = "".join(f"<li><a href='#{html.escape(e['name'])}'>{html.escape(str(e.get('title') or e['name']))}</a></li>"
                  for e in entries)
    body.append(f"<ul>{toc}</ul>")
    body += [_section(e) for e in entries]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>dsconv demo report</title>"
            f"<style>{_STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def write_report(out_dir: Path, entries: Sequence[dict[str, Any]], meta: dict[str, Any], *,
                 gif: Path | None = None) -> tuple[Path, Path]:
    """Write ``index.html`` and ``results.json`` into ``out_dir`` atomically; return both paths."""
    out = Path(out_dir)
    page = atomic_write_text(out / "index.html", render_html(entries, meta, gif=gif))
    payload = {"meta": meta, "experiments": [{k: v for k, v in e.items() if k != "figures"} |
                                              {"figures": [Path(f).name for f in e.get("figures", [])]}
                                              for e in entries]}
    results = atomic_write_text(out / "results.json", json.dumps(json_safe(payload), indent=1, allow_nan=False))
    return page, results
