"""README tables made from code and committed records, and the tool that refreshes them in place."""
from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from .errors import S4Error
from .model import count_parameters
from .project import PACKAGE_DIR
from .receptive_field import receptive_field_table
from .records import ABLATIONS_RECORD, BENCHMARK_RECORD, MAIN_RECORD, load_record, search_record_path

README = PACKAGE_DIR.parent / "README.md"


def architecture_table(model: nn.Module, input_size: int = 28) -> str:
    """Markdown table: block, layers, output shape, parameters and receptive field after the block."""
    rf = {r.name: r for r in receptive_field_table(model, input_size)}
    lines = ["| block | layers | output (C×H×W) | parameters | receptive field |",
             "|---|---|---|---:|---:|", f"| input | | 1×{input_size}×{input_size} | 0 | 1×1 |"]
    for name, block in model.features.named_children():
        spatial = [r for key, r in rf.items() if key.startswith(f"features.{name}.")] or [rf[f"features.{name}"]]
        last = spatial[-1]
        layers = " → ".join(_layer_name(m) for m in (block if isinstance(block, nn.Sequential) else [block]))
        lines.append(f"| {name} | {layers} | {last.channels_out}×{last.size_out}×{last.size_out} | "
                     f"{count_parameters(block)} | {last.rf}×{last.rf} |")
    lines.append(f"| fc | Linear | 10 | {count_parameters(model.fc)} | |")
    lines.append(f"| **total** | | | **{count_parameters(model):,}** | |")
    return "\n".join(lines)


def _layer_name(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return f"conv{m.kernel_size[0]}x{m.kernel_size[1]} {m.in_channels}→{m.out_channels}"
    if isinstance(m, nn.MaxPool2d):
        return "maxpool 2x2"
    if isinstance(m, nn.Dropout):
        return f"Dropout({m.p:g})"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "GAP"
    return type(m).__name__.replace("BatchNorm2d", "BN")


def results_markdown(record: dict, last: int = 5) -> str:
    """Markdown table of epoch 1 and the last epochs of a training record, final epoch in bold."""
    h = record["history"]
    last3 = ", ".join(f"{100 * e['test_acc']:.2f}%" for e in h[-3:])
    lines = [f"**{record['num_params']:,} parameters, {len(h)} epochs, final-epoch test accuracy "
             f"{100 * h[-1]['test_acc']:.2f}%** (last 3 epochs: {last3}).", "",
             "| epoch | lr | train loss | train acc | train check acc | test loss | test acc | seconds (train + eval) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    shown = h if len(h) <= last + 1 else [h[0], None, *h[-last:]]
    for e in shown:
        if e is None:
            lines.append("| … | | | | | | | |")
            continue
        acc = f"{100 * e['test_acc']:.2f}%"
        check = f"{100 * e['train_check_acc']:.2f}%" if e.get("train_check_acc") is not None else ""
        lines.append(f"| {e['epoch']} | {e['lr']:.5f} | {e['train_loss']:.4f} | {100 * e['train_acc']:.2f}% | {check} | "
                     f"{e['test_loss']:.4f} | {'**' + acc + '**' if e is h[-1] else acc} | "
                     f"{e['seconds']:.0f} + {e['test_seconds']:.0f} |")
    return "\n".join(lines)


def replace_block(text: str, name: str, content: str) -> str:
    """Replace what stands between <!-- name:start --> and <!-- name:end --> with content."""
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no block <!-- {name}:start --> ... <!-- {name}:end -->")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def read_block(text: str, name: str) -> str:
    """The content of a generated block."""
    m = re.search(rf"<!-- {re.escape(name)}:start -->\n(.*?)<!-- {re.escape(name)}:end -->", text, re.S)
    if not m:
        raise ValueError(f"README has no block <!-- {name}:start --> ... <!-- {name}:end -->")
    return m.group(1).removesuffix("\n")


def generated_blocks() -> dict[str, str]:
    """Every README block that code produces, by name."""
    from .backprop import error_table_markdown, flattening_markdown, run_all
    from .model import build_model

    histories = run_all()
    blocks = {"error-table": error_table_markdown(histories), "flattening": flattening_markdown(histories),
              "architecture": architecture_table(build_model("s4"))}
    if MAIN_RECORD.exists():
        blocks["mnist-results"] = results_markdown(load_record())
    from .experiments import ablations_markdown, seeds_markdown

    seeds = seeds_records()
    if seeds:
        blocks["seeds"] = seeds_markdown(seeds)
    if ABLATIONS_RECORD.exists():
        blocks["ablations"] = ablations_markdown(load_record(ABLATIONS_RECORD))
    from .experiments import SEARCHES, search_markdown

    for name in SEARCHES:
        if search_record_path(name).exists():
            blocks[f"search-{name}"] = search_markdown(load_record(search_record_path(name)))
    if BENCHMARK_RECORD.exists():
        bench = load_record(BENCHMARK_RECORD)
        blocks["benchmark"] = benchmark_markdown(bench)
        if "profiles" in bench:
            blocks["profile"] = profile_markdown(bench)
    return blocks


def seeds_records() -> list[dict]:
    """Every seeds record, the main model first, then the smaller ones from large to small."""
    from .records import RESULTS

    paths = sorted(p for p in RESULTS.glob("seeds_*.json") if ".partial" not in p.name)
    records = [load_record(p) for p in paths]
    return sorted(records, key=lambda r: (r["config"]["model"] != "s4", -r["runs"][0]["num_params"],
                                          r["config"]["model"], r["config"]["num_epochs"]))


def benchmark_markdown(record: dict) -> str:
    """Medians of the speed benchmark, ratios to v1 from the same invocation, and the share of the machine's peak."""
    m, peak = record["median"], record.get("peak_gflops")
    base = "v1" if "v1" in m else next(iter(m))
    lines = ["| variant | training epoch (s) | faster than v1 | GFLOP per epoch | GFLOP/s | % of peak | "
             "test pass (s) | peak RSS (MiB) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, what in record["variants"].items():
        r = m[name]
        gflops = r["train_gflop"] / r["train_s"] if "train_gflop" in r else None
        lines.append(f"| {what} | {r['train_s']:.1f} | {m[base]['train_s'] / r['train_s']:.2f}x | "
                     f"{fmt(r.get('train_gflop'), '.0f')} | {fmt(gflops, '.1f')} | "
                     f"{fmt(100 * gflops / peak if gflops and peak else None, '.1f')} | "
                     f"{r['test_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    peak_line = (f" The machine's peak, a 2048x2048 float32 matrix multiply measured in the same invocation (best "
                 f"of {record['repeats']} rounds of 5), is {peak:.0f} GFLOP/s." if peak else "")
    lines += ["", f"Median of {record['repeats']} rounds; each round runs every variant once, in a fresh process, "
              f"batch {record['config']['batch_size']} unless named. \"Faster than v1\" is v1's epoch divided by "
              f"the variant's (above 1 = faster). FLOPs count the convolutions and the Linear layer: 2 per "
              f"multiply-add for the forward pass, times 3 for forward and backward; BatchNorm, ReLU, pooling, "
              f"dropout and the augmentation are not counted.{peak_line} "
              f"Made by `{record['command']}` on {record['machine']}, {record['date']}."]
    return "\n".join(lines)


def profile_markdown(record: dict) -> str:
    """The operators that take the most CPU time in a training step, per profiled variant."""
    lines = []
    for name, top in record.get("profiles", {}).items():
        shares = ", ".join(f"`{op}` {100 * share:.0f}%" for op, share in top[:5])
        lines.append(f"- {record['variants'][name]}: {shares}")
    return "\n".join(lines)


def fmt(value: float | None, spec: str) -> str:
    """A number in a table cell, or nothing when the record predates it."""
    return "" if value is None else format(value, spec)


def refresh_readme(path: str | Path = README) -> Path:
    """Rewrite the generated blocks of the README from code and committed records, and the Colab links.

    The links come from the address of the clone the README sits in (see s4lib.project); the same
    address goes into the first cell of each notebook beside it, so a notebook opened alone can install s4lib.
    """
    from .notebooks import set_address
    from .project import NOTEBOOKS, colab_markdown, github_url, repo_url

    path = Path(path)
    if not path.is_file():
        problem = "is a folder" if path.is_dir() else "no such file"
        raise S4Error(f"--path {path}: {problem}; give the README to refresh")
    text = path.read_text()
    for name, content in generated_blocks().items():
        text = replace_block(text, name, content)
    text = replace_block(text, "colab", colab_markdown(path.parent))
    url = repo_url(path.parent)
    github = github_url(url) if url else None
    notebooks = [path.parent / "notebooks" / nb for nb in NOTEBOOKS if (path.parent / "notebooks" / nb).is_file()]
    for nb in notebooks:  # a notebook without its address line stops the refresh before anything is written
        set_address(nb, github, dry_run=True)
    path.write_text(text)
    for nb in notebooks:
        set_address(nb, github)
    return path
