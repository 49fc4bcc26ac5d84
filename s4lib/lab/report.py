"""README tables made from code and committed records, and the tool that refreshes them in place."""
from __future__ import annotations

import re
import statistics
from pathlib import Path

from torch import nn

from ..assignment import MIN_TEST_ACC
from ..errors import S4Error
from ..project import PACKAGE_DIR, display_path
from ..tables import architecture_table, results_markdown
from .experiments import first_config
from .profile import PHASES, epoch_ratio
from .records import (ABLATIONS_RECORD, BENCHMARK_RECORD, GPU_CHECK_RECORD, MAIN_RECORD, PLACEMENT_RECORD,
                      PROFILE_RECORD, RESULTS, TEST_SET_ABLATIONS_RECORD, TIME_TO_ACCURACY_RECORD, load_record,
                      run_config, search_record_path, what_ran)

README = PACKAGE_DIR.parent / "README.md"


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
    from ..backprop import error_table_markdown, run_all
    from ..model import build_model

    histories = run_all()
    blocks = {"error-table": error_table_markdown(histories), "architecture": architecture_table(build_model("s4"))}
    if MAIN_RECORD.exists():
        main = load_record()
        blocks["mnist-results"] = results_markdown(main, last=3)
        blocks["checklist"] = checklist_markdown(main)
    seeds = seeds_records()
    if seeds:
        blocks["presets"] = presets_markdown(seeds)
    if TIME_TO_ACCURACY_RECORD.exists():
        blocks["speed"] = speed_sentence(load_record(TIME_TO_ACCURACY_RECORD))
    return blocks


def speed_sentence(time_to_accuracy: dict) -> str:
    """The README's sentence on speed: a whole run of `s4` against one of fast, named by the invocation and the
    machine it comes from."""
    t = time_to_accuracy["median"]
    fast = t[preset_row(time_to_accuracy, "fast")]
    from ..model import setting_phrase

    main = row_config(time_to_accuracy, "main")
    epochs = ", ".join(setting_phrase(key, main[key]) for key in ("num_epochs", "eval_every"))
    cpu = time_to_accuracy["machine"].split(", torch")[0]
    return (f"On {cpu}, a whole run, data on hand to final model scored, takes {t['main']['run_s']:.0f} s for `s4` "
            f"({epochs}) and {fast['run_s']:.0f} s for `fast`, so `s4` takes "
            f"{t['main']['run_s'] / fast['run_s']:.2f}x as long (`{time_to_accuracy['command']}`, medians of "
            f"{time_to_accuracy['repeats']} rounds in one invocation).")


def preset_row(record: dict, preset: str) -> str:
    """The row of a time-to-accuracy record that timed a preset as it stands: its model, precision and layout."""
    from ..train import TrainConfig

    want = TrainConfig.preset(preset)
    found = [name for name in record["rows"] if all(row_config(record, name)[key] == getattr(want, key)
                                                    for key in ("model", "precision", "memory_format"))]
    if not found:
        raise S4Error(f"the time-to-accuracy record has no row of the preset {preset} as it stands: re-make it with "
                      "`python -m s4lib benchmark --time-to-accuracy`")
    return found[0]


def row_config(record: dict, row: str) -> dict:
    """The config of a time-to-accuracy row (every round of a row runs the same config)."""
    return next(r["config"] for r in record["runs"] if r["row"] == row)


def checklist_markdown(main: dict) -> str:
    """The assignment's requirements, each with its value here (from code and the committed run) and where shown."""
    from ..assignment import MAX_EPOCHS, MAX_PARAMETERS, has_gap, has_layer
    from ..backprop import LEARNING_RATES
    from ..model import build_model, count_parameters

    config = run_config(main)
    model = build_model(config.architecture, config.dropout)
    h = main["history"]
    found = (("BatchNorm", has_layer(model, nn.BatchNorm2d)), ("Dropout", has_layer(model, nn.Dropout)),
             ("GAP", has_gap(model)), ("a fully connected layer", has_layer(model, nn.Linear)))
    parts = [name for name, ok in found if ok]
    nb1, nb2 = "notebooks/01_backprop_by_hand.ipynb", "notebooks/02_mnist_cnn.ipynb"
    rows = [
        ("Part 1: a spreadsheet with live formulas", "`backprop.xlsx`", "[the workbook](#the-workbook)"),
        ("Part 1: the class's values", "i1, i2, t1, t2, w1..w8", "[the network](#the-network)"),
        ("Part 1: screenshots of the workbook", "rendered from the committed file", "[the workbook](#the-workbook)"),
        ("Part 1: every step explained", "equations and code", f"[each step](#each-step), [notebook 01]({nb1})"),
        ("Part 1: the error graph for η = " + ", ".join(f"{lr:g}" for lr in LEARNING_RATES), "100 updates each",
         "[the learning rate](#the-learning-rate)"),
        (f"Part 2: fewer than {MAX_PARAMETERS:,} parameters", f"{count_parameters(model):,}",
         "[architecture](#architecture)"),
        (f"Part 2: fewer than {MAX_EPOCHS} epochs", f"{len(h)}", "[result](#result)"),
        ("Part 2: BatchNorm, Dropout, GAP, a fully connected layer",
         "all four" if len(parts) == len(found) else f"only {', '.join(parts)}" if parts else "none",
         "[architecture](#architecture)"),
        (f"Part 2: {100 * MIN_TEST_ACC:.1f}% validation accuracy (the MNIST test set here)",
         f"{100 * h[-1]['test_acc']:.2f}% at the final epoch ({len(h)})", "[result](#result)"),
        ("Part 2: the training logs", "one line per epoch", f"[notebook 02]({nb2})"),
        ("Part 2: the design concepts answered", "each topic", "[why](#why-the-network-looks-like-this)"),
    ]
    lines = ["| requirement | here | shown in |", "|---|---|---|"]
    lines += [f"| {req} | {value} | {where} |" for req, value, where in rows]
    return "\n".join(lines)


def same_recipe(config: dict, preset: str) -> bool:
    """Whether a recorded run trained a preset with its recipe as it stands (its seed aside, and the thread count and
    memory layout, which change the order in which floats are added, not the recipe)."""
    from ..checkpoint import config_record
    from ..train import TrainConfig

    def recipe(c: dict) -> dict:
        return {k: v for k, v in what_ran(c).items() if k not in ("seed", "threads", "memory_format")}
    return recipe(config) == recipe(config_record(TrainConfig.preset(preset)))


def preset_records(records: list[dict]) -> dict[str, dict]:
    """The seeds record of each preset a user picks, trained with its recipe as it stands (the others are the lab's)."""
    from ..model import PRESETS

    found = {}
    for name in PRESETS:
        match = [r for r in records if [run["seed"] for run in r["runs"]] == [1, 2, 3, 4, 5]
                 and all(same_recipe(run["config"], name) for run in r["runs"])]
        if match:
            found[name] = match[0]
    return found


def presets_markdown(records: list[dict]) -> str:
    """One row per preset: parameters, epochs, each seed's final test accuracy, min and mean."""
    from ..model import PRESET_DESCRIPTIONS, recipe_words

    found = preset_records(records)
    lines = ["| preset | what it is | recipe | parameters | epochs | seeds 1 to 5: final-epoch test accuracy | min | "
             "mean |", "|---|---|---|---:|---:|---|---:|---:|"]
    for name, rec in found.items():
        finals = ", ".join(f"{100 * r['final_test_acc']:.2f}" for r in rec["runs"])
        s = rec["summary"]
        lines.append(f"| `{name}` | {PRESET_DESCRIPTIONS[name]} | {recipe_words(name) or 'the defaults'} | "
                     f"{rec['runs'][0]['num_params']:,} | {first_config(rec)['num_epochs']} | {finals} | "
                     f"{100 * s['min']:.2f}% | {100 * s['mean']:.3f}% |")
    lines += ["", f"Made by `python -m s4lib seeds --model NAME`{layouts_then(found)}; nothing is picked."
              f"{seed_one_sentence(found)}"]
    return "\n".join(lines)


def layouts_then(found: dict[str, dict]) -> str:
    """Which presets' seeds ran in a memory layout other than today's, and how to re-make a record as it ran."""
    from ..train import TrainConfig

    then = [name for name, rec in found.items()
            if first_config(rec)["memory_format"] != TrainConfig.preset(name).memory_format]
    if not then:
        return ""
    names = ", ".join(f"`{n}`" for n in then[:-1]) + (" and " if len(then) > 1 else "") + f"`{then[-1]}`"
    layout = first_config(found[then[0]])["memory_format"]
    return (f" ({names} then in the `{layout}` memory layout; `python -m s4lib rerun RECORD` re-makes a "
            "[record](notebooks/results/README.md#seeds-the-full-schedule-on-five-seeds) exactly as it ran)")


def seed_one_sentence(found: dict[str, dict]) -> str:
    """Seed 1 of the main preset against the Result's run: both figures, and what differed in how they ran."""
    if "s4" not in found or not MAIN_RECORD.exists():
        return ""
    main, seeds = load_record(), found["s4"]
    seed1 = seeds["runs"][0]
    if seed1["seed"] != main["config"]["seed"] or not same_recipe(main["config"], "s4"):
        return ""
    differ = [what for what, a, b in (
        ("thread count", threads_of(seeds["machine"]), threads_of(main.get("device"))),
        ("memory layout", seed1["config"]["memory_format"], main["config"]["memory_format"])) if a != b]
    how = f" with another {' and '.join(differ)}, which reorder the float sums" if differ else ""
    return (f" Seed 1 of `s4` ({100 * seed1['final_test_acc']:.2f}%) is the Result's run "
            f"({100 * main['history'][-1]['test_acc']:.2f}%) made again{how}.")


def seed_one_paragraph(found: dict[str, dict]) -> str:
    """Why seed 1 of the main preset's seeds and notebook 02's run, the same recipe and seed, end differently."""
    if "s4" not in found or not MAIN_RECORD.exists():
        return ""
    main, seed1 = load_record(), found["s4"]["runs"][0]
    if seed1["seed"] != main["config"]["seed"] or not same_recipe(main["config"], "s4"):
        return ""
    layouts, seed_layouts = "", ""
    if main["config"]["memory_format"] != seed1["config"]["memory_format"]:
        layouts, seed_layouts = (f" in the {c['memory_format']} layout" for c in (main["config"], seed1["config"]))
    return (f"Seed 1 of `s4` is notebook 02's run (the README's Result) made again: "
            f"{100 * main['history'][-1]['test_acc']:.2f}% there and {100 * seed1['final_test_acc']:.2f}% here. The "
            f"notebook ran with {threads_of(main.get('device'))}{layouts}, the seeds with "
            f"{threads_of(found['s4']['machine'])}{seed_layouts}, at other times on machines whose CPUs may differ; "
            "each changes the order in which the convolutions add their floats, and from there each run follows its "
            "own path.")


def threads_of(machine: str | None) -> str:
    """'one torch thread' or 'one per core', read from a record's machine line."""
    m = re.search(r"(\d+) (?:torch )?thread", machine or "")
    return f"{m.group(1)} torch thread{'s' if m.group(1) != '1' else ''}" if m else "one torch thread per core"


def benchmark_rows(record: dict) -> dict:
    """The medians of a benchmark record, which the README and report read as ratios of 'default' to 'v1'."""
    missing = [name for name in ("v1", "default") if name not in record.get("median", {})]
    if missing:
        raise S4Error(f"the benchmark record has no {' or '.join(missing)} row (made with --only?); "
                      "re-make it with `python -m s4lib benchmark`")
    return record["median"]


def seeds_records() -> list[dict]:
    """Every seeds record, the main model first, then the smaller ones from large to small."""
    paths = sorted(p for p in RESULTS.glob("seeds_*.json") if ".partial" not in p.name)
    records = [load_record(p) | {"path": p} for p in paths]
    return sorted(records, key=lambda r: (first_config(r)["model"] != "s4", -r["runs"][0]["num_params"],
                                          first_config(r)["model"], first_config(r)["num_epochs"]))


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
                     f"{cell(r.get('train_gflop'), '.0f')} | {cell(gflops, '.1f')} | "
                     f"{cell(100 * gflops / peak if gflops and peak else None, '.1f')} | "
                     f"{r['test_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    peak_line = (f" The machine's peak, a 2048x2048 float32 matrix multiply measured in the same invocation (best "
                 f"of {record['repeats']} rounds of 5), is {peak:.0f} GFLOP/s." if peak else "")
    lines += ["", f"Median of {record['repeats']} rounds; each round runs every variant once, in a fresh process, "
              f"batch {variant_config(record, base)['batch_size']} unless named. \"Faster than v1\" is v1's "
              f"epoch divided by "
              f"the variant's (above 1 = faster). FLOPs count the convolutions and the Linear layer: 2 per "
              f"multiply-add for the forward pass, times 3 for forward and backward; BatchNorm, ReLU, pooling, "
              f"dropout and the augmentation are not counted.{peak_line} "
              f"Made by `{record['command']}` on {record['machine']}, {record['date']}; "
              f"`python -m s4lib rerun {display_path(BENCHMARK_RECORD)}` re-makes it from the record."]
    return "\n".join(lines)


def variant_config(record: dict, variant: str) -> dict:
    """The config of an epoch-benchmark variant (every round of a variant runs the same config)."""
    return next(r["config"] for r in record["runs"] if r["variant"] == variant)


def time_to_accuracy_markdown(record: dict) -> str:
    """Whole runs (wall time, final test accuracy per round) and the levers of their speed, with ratios."""
    m, lm = record["median"], record["lever_median"]
    lines = ["| run | what it is | epochs | batch | dropout | whole run (s) | times the main run's speed | "
             "final test acc, each round | peak RSS (MiB) |", "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, row in record["rows"].items():
        accs = round_accuracies(record, name)
        c = row_config(record, name)
        lines.append(f"| `{name}` | {row['what']} | {c['num_epochs']} | {c['batch_size']} | {c['dropout']:g} | "
                     f"{m[name]['run_s']:.1f} | {m['main']['run_s'] / m[name]['run_s']:.2f}x | {accs} | "
                     f"{m[name]['peak_rss_mib']:.0f} |")
    lines += ["", "| lever | what it changes in the main config | training s per 60,000 images | "
              "times the fp32 row's speed |", "|---|---|---:|---:|"]
    for name, lever in record["levers"].items():
        lines.append(f"| `{name}` | {lever['what']} | {lm[name]:.1f} | {lm['fp32'] / lm[name]:.2f}x |")
    lines += ["", f"Median of {record['repeats']} rounds; each round runs every row and every lever once, each in a "
              "fresh process. A whole run is timed from the data on hand (read from disk before the clock starts) "
              "to the final model evaluated: the model built, every epoch trained, and the evaluation after every "
              "epoch that the log prints (the test set and the training-set check). A lever is timed over "
              f"{record['lever_images']:,} training images after a short warm-up and scaled to 60,000: a short "
              f"timing that "
              "moves by several percent from round to round (the record holds every round); the epoch benchmark "
              "above, another invocation, times whole epochs. "
              f"Made by `{record['command']}` on {record['machine']} ({record['device']}), {record['date']}; "
              f"`python -m s4lib rerun {display_path(TIME_TO_ACCURACY_RECORD)}` re-makes it from the record."]
    return "\n".join(lines)


def time_to_accuracy_values(record: dict) -> dict[str, str]:
    """[[row]] -> median whole-run seconds, [[ratio]] -> main over fast, [[lever:x]] -> lever speed over fp32."""
    m, lm = record["median"], record["lever_median"]
    values = {name: f"{r['run_s']:.0f} s" for name, r in m.items()}
    values |= {f"{name}:x": f"{lm['fp32'] / s:.2f}x" for name, s in lm.items()}
    fast = preset_row(record, "fast")
    values |= {"fast:preset": values[fast], "fast:preset:row": f"`{fast}`",
               "ratio": f"{m['main']['run_s'] / m[fast]['run_s']:.2f}x",
               "fast:preset:accs": round_accuracies(record, fast)}
    whole = rounds_of(record["runs"], "row", "run_s")
    for row, reference in (("pool_first_20_bf16_cl", "pool_first_20"), ("fast", "pool_first_20")):
        if {row, reference} <= set(m):
            values[f"{row}:vs:{reference}"] = compared(m[row]["run_s"], m[reference]["run_s"], whole[row],
                                                       whole[reference])
            values[f"{row}:x:{reference}"] = f"{m[reference]['run_s'] / m[row]['run_s']:.2f}x"
    if {"pool_first_20_bf16_cl", "pool_first_20"} <= set(m):  # the rule of the search fast-4's follow-up
        faster = all(a < b for a, b in zip(whole["pool_first_20_bf16_cl"], whole["pool_first_20"]))
        values["pool_first_20:decision"] = ("it would have taken bf16 where native and channels_last" if faster else
                                            "it kept float32 and NCHW")
    values |= {f"lever:{name}": f"{s:.1f} s" for name, s in lm.items()}
    rounds = rounds_of(record["lever_runs"], "lever", "train_s_per_epoch")
    values |= {f"{name}:cmp": compared(s, lm["fp32"], rounds.get(name, []), rounds.get("fp32", []))
               for name, s in lm.items()}
    pairs = list(zip(rounds.get("bf16", []), rounds.get("fp32", [])))
    values["bf16:rounds"] = f"faster in {in_words(sum(a < b for a, b in pairs))} of its {in_words(len(pairs))} rounds"
    values["bf16:native"] = ("computes bf16 natively (AVX512-BF16 or AMX)" if record["native_bf16"] else
                             "has no native bf16 (neither AVX512-BF16 nor AMX), so torch emulates it")
    values["auto"] = record["auto_precision"]
    return values


def round_accuracies(record: dict, row: str) -> str:
    """The final test accuracy of a time-to-accuracy row in each round, e.g. '99.46%, 99.46%, 99.46%'."""
    return ", ".join(f"{100 * r['final_test_acc']:.2f}%" for r in record["runs"] if r["row"] == row)


def profile_markdown(record: dict) -> str:
    """The operators that take the most CPU time in a training step, per profiled variant."""
    lines = []
    for name, top in record.get("profiles", {}).items():
        shares = ", ".join(f"`{op}` {100 * share:.0f}%" for op, share in top[:5])
        lines.append(f"- {record['variants'][name]}: {shares}")
    return "\n".join(lines)


def cell(value: float | None, spec: str) -> str:
    """A number in a table cell, or nothing when the record predates it."""
    return "" if value is None else format(value, spec)


def refresh_readme(path: str | Path = README) -> Path:
    """Rewrite the generated blocks of the README from code and committed records, and the Colab links.

    The links come from the address of the clone the README sits in (see s4lib.project); the same
    address goes into the first cell of each notebook beside it, so a notebook opened alone can install s4lib.
    """
    from ..notebooks import set_address
    from ..project import NOTEBOOKS, colab_markdown, github_url, repo_url

    path = Path(path)
    if not path.is_file():
        problem = "is a folder" if path.is_dir() else "no such file"
        raise S4Error(f"--path {path}: {problem}; give the README to refresh")
    text = path.read_text()
    for name, content in generated_blocks().items():
        text = replace_block(text, name, content)
    report = report_markdown() if path.resolve() == README.resolve() else None
    text = replace_block(text, "colab", colab_markdown(path.parent))
    url = repo_url(path.parent)
    github = github_url(url) if url else None
    notebooks = [path.parent / "notebooks" / nb for nb in NOTEBOOKS if (path.parent / "notebooks" / nb).is_file()]
    for nb in notebooks:  # a notebook without its address line stops the refresh before anything is written
        set_address(nb, github, dry_run=True)
    path.write_text(text)
    if report is not None:  # the report belongs to the clone's own README, not to a copy elsewhere
        REPORT.write_text(report)
    for nb in notebooks:
        set_address(nb, github)
    return path


REPORT = README.parent / "notebooks" / "results" / "README.md"  # GitHub shows it when the folder is opened


def fill(text: str, values: dict[str, str], where: str) -> str:
    """Replace every [[key]] of a text with its value; a key with no value is an error, never a blank."""
    def value(m: re.Match) -> str:
        if m.group(1) not in values:
            raise S4Error(f"{where}: no value for [[{m.group(1)}]] in its record")
        return values[m.group(1)]
    return re.sub(r"\[\[(.+?)\]\]", value, text)


def github_anchor(heading: str) -> str:
    """The #anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def search_values(record: dict) -> dict[str, str]:
    """[[candidate]] -> mean final validation accuracy, [[candidate:right]] -> images right over its seeds."""
    from .experiments import runs_by_name

    values = {}
    held = first_config(record)["validation"]
    for name, runs in runs_by_name(record["runs"]).items():
        accs = [r["final_test_acc"] for r in runs]
        right, mean = round(sum(accs) * held), statistics.mean(accs)
        values[name] = f"{100 * mean:.2f}%"
        values[f"{name}:mean3"] = f"{100 * mean:.3f}%"  # where a bar sits on the 2nd decimal
        values[f"{name}:right"] = f"{right:,} of {len(accs) * held:,}"
        values[f"{name}:min"] = f"{100 * min(accs):.2f}%"
        checks = [r.get("final_train_check_acc") for r in runs]
        values[f"{name}:check"] = f"{100 * statistics.mean(checks):.2f}%" if None not in checks else ""
        values[f"{name}:time"] = f"{statistics.median(r['wall_seconds'] for r in runs):.0f} s" \
            if all("wall_seconds" in r for r in runs) else ""
    return values


def nearest_values(runs: list[dict]) -> dict[str, str]:
    """The candidate of fast-2 and fast-3 nearest their bar: [[nearest]] its name, [[short]] its shortfall (below
    the seed bar by its lowest seed plus below the mean bar by its mean), [[short:seed]] and [[short:mean]]."""
    from .experiments import FAST_BAR, runs_by_name

    def parts(accs: list[float]) -> tuple[float, float]:
        return max(0.0, FAST_BAR["every_seed"] - min(accs)), max(0.0, FAST_BAR["mean"] - statistics.mean(accs))
    shortfalls = {name: parts([r["final_test_acc"] for r in group]) for name, group in runs_by_name(runs).items()}
    nearest = min(shortfalls, key=lambda name: sum(shortfalls[name]))
    seed, mean = shortfalls[nearest]
    return dict(nearest=nearest, short=f"{100 * (seed + mean):.2f} points", **{"short:seed": f"{100 * seed:.2f}",
                                                                                "short:mean": f"{100 * mean:.2f}"})


def search_section(name: str, record: dict, others: dict[str, dict], seeds: dict[str, str]) -> str:
    """A search: its question, the rule fixed before its runs, its table, and what was decided."""
    from .experiments import search_markdown
    from .notes import RULE_BARS, SEARCH_NOTES

    heading, decision = SEARCH_NOTES[name]
    values = search_values(record)
    if name in RULE_BARS:  # the rule asks for the shortfall when no candidate reaches its bar
        from .experiments import runs_by_name

        best = max(statistics.mean(r["final_test_acc"] for r in runs) for runs in runs_by_name(record["runs"]).values())
        values["short"] = f"{100 * (RULE_BARS[name] - best):.2f} points"
    if name == "main-5" and "main-4" in others:  # read together with main-4's three seeds
        both = dict(record, runs=others["main-4"]["runs"] + record["runs"])
        values |= {f"five:{k}": v for k, v in search_values(both).items()}
    if name == "fast-3" and "fast-2" in others:  # its rule reads both rounds together
        values |= nearest_values(others["fast-2"]["runs"] + record["runs"])
    values |= seeds  # the test runs of the searches, read once for all of them
    return "\n".join([f"### Search {name}: {heading[0].lower()}{heading[1:]}", "",
                      f"**Question.** {record['question'][0].upper()}{record['question'][1:]}.", "",
                      f"**Rule, fixed before the runs.** {record['rule']}", "",
                      search_markdown(record, search_record_path(name)), "",
                      f"**Result and decision.** {fill(decision, values, f'search {name}')}"])


NUMBER_WORDS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def in_words(n: int) -> str:
    """A small count as a word ('three'), a larger one in digits."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def seeds_values(records: list[dict]) -> dict[str, str]:
    """[[seeds:NAME:below]] -> how many seeds of the record seeds_NAME.json end below 99.4% (a word),
    [[seeds:NAME:n]] -> how many seeds it ran, [[seeds:NAME:mean]] -> their mean final test accuracy."""
    values = {}
    for rec in records:
        name = rec["path"].stem.removeprefix("seeds_")
        finals = [r["final_test_acc"] for r in rec["runs"]]
        below = sum(a < MIN_TEST_ACC for a in finals)
        values |= {f"seeds:{name}:below": in_words(below), f"seeds:{name}:n": in_words(len(finals)),
                   f"seeds:{name}:mean": f"{100 * sum(finals) / len(finals):.3f}%"}
    return values


def ablation_values(record: dict) -> dict[str, str]:
    """[[variant]] -> mean final accuracy with its range (and how many seeds diverged), [[variant:mean]] the mean
    alone, [[variant:check]] -> training-set check, [[variant:range]], [[variant:diverged]] -> seeds diverged."""
    from .experiments import mean_and_range, mean_of, runs_by_name

    values = {}
    groups = runs_by_name(record["runs"])
    base = [r["final_test_acc"] for r in groups.get("baseline", []) if r["final_test_acc"] is not None]
    for name, runs in groups.items():
        accs = [r["final_test_acc"] for r in runs]
        ended = [a for a in accs if a is not None]
        values[name] = mean_and_range(accs)
        if base and ended:  # how its mean stands against the baseline's range over its seeds, in words
            mean = statistics.mean(ended)
            values[f"{name}:vs"] = ("no measurable difference" if min(base) <= mean <= max(base) else
                                    "above the baseline's range" if mean > max(base) else "below the baseline's range")
        values[f"{name}:diverged"] = in_words(len(accs) - len(ended))
        check = mean_of([r.get("final_train_check_acc") for r in runs])
        if check is not None:
            values[f"{name}:check"] = f"{100 * check:.2f}%"
        if ended:
            values[f"{name}:mean"] = f"{100 * statistics.mean(ended):.2f}%"
            values[f"{name}:range"] = f"{100 * min(ended):.2f}–{100 * max(ended):.2f}%"
    return values


def benchmark_values(record: dict) -> dict[str, str]:
    """[[variant]] -> median epoch seconds, [[variant:x]] -> times faster than v1, [[variant:pct]] -> % of peak."""
    m, peak = benchmark_rows(record), record.get("peak_gflops")
    rounds = rounds_of(record["runs"], "variant", "train_s")
    values = {}
    for name, r in m.items():
        values[name] = f"{r['train_s']:.1f} s"
        values[f"{name}:x"] = f"{m['v1']['train_s'] / r['train_s']:.2f}x"
        values[f"{name}:cmp"] = compared(r["train_s"], m["default"]["train_s"], rounds.get(name, []),
                                         rounds.get("default", []))
        if peak and "train_gflop" in r:
            values[f"{name}:pct"] = f"{100 * r['train_gflop'] / r['train_s'] / peak:.0f}%"
    return values


SAME_SPEED = 0.03  # medians within 3% of each other are called as fast: rounds of one invocation vary about that much


def compared(seconds: float, reference: float, rounds: list[float] = (), reference_rounds: list[float] = ()) -> str:
    """'slower than', 'faster than' or 'about as fast as' the reference, in words for a sentence. With the rounds of
    one invocation (round k of each ran side by side), a verdict holds only where every round agrees."""
    if abs(seconds / reference - 1) <= SAME_SPEED:
        return "about as fast as"
    pairs = list(zip(rounds, reference_rounds))
    if pairs and not (all(a < b for a, b in pairs) or all(a > b for a, b in pairs)):
        return "in some rounds faster and in others slower than"
    return "slower than" if seconds > reference else "faster than"


def rounds_of(runs: list[dict], key: str, value: str) -> dict[str, list[float]]:
    """Every round's seconds of each variant (or lever) of a record, by name."""
    found: dict[str, list[float]] = {}
    for r in runs:
        if r.get(value) is not None:
            found.setdefault(r[key], []).append(r[value])
    return found


def report_markdown() -> str:
    """The experiment report: every record of notebooks/results, each with its table and its reading."""
    from .experiments import seeds_markdown
    from .notes import SEARCH_ORDER
    from .records import RESULTS

    searches = {p.stem.removeprefix("search_"): load_record(p) for p in sorted(RESULTS.glob("search_*.json"))
                if ".partial" not in p.name}
    unknown = sorted(set(searches) - set(SEARCH_ORDER))
    if unknown:
        raise S4Error(f"search record(s) {unknown} have no section in s4lib/lab/notes.py")
    seeds = seeds_records()
    sections = [("Seeds: the full schedule on five seeds", seeds_section(seeds, seeds_markdown))]
    seed_values = seeds_values(seeds)
    if searches:
        title = "Searches: designs chosen on validation images"
        sections.append((title, f"## {title}\n\nEach search trains its candidates on 50,000 training images and "
                                "scores their final epoch on the 10,000 held out; the test set is not read. The main "
                                "model's searches come first, then those of the fast preset and those for a model "
                                "under 5,000 parameters. A search's run times compare its own candidates, which ran "
                                "in one invocation on one machine; the shared machines of two searches can run at "
                                "different speeds, so one design's time can differ from one search to another. A "
                                "search's question and rule are quoted as they were written before its runs, with "
                                "the names and figures of that day: until the search fast-10, `fast` named the "
                                "design the records call `pool-first-20` (a first conv of 12), and the profile "
                                "quoted was of that design. A rule's reason for its bar is a prediction; the test "
                                "runs in the seeds table show how it held."))
    for name in SEARCH_ORDER:
        if name in searches:
            text = search_section(name, searches[name], searches, seed_values)
            sections.append((text.splitlines()[0].removeprefix("### "), text))
    bench_values = {}
    for path, section in ((ABLATIONS_RECORD, ablations_section), (TEST_SET_ABLATIONS_RECORD, test_set_ablations),
                          (PROFILE_RECORD, profile_section), (PLACEMENT_RECORD, placement_section),
                          (BENCHMARK_RECORD, benchmark_section), (TIME_TO_ACCURACY_RECORD, time_to_accuracy_section),
                          (GPU_CHECK_RECORD, gpu_check_section)):
        if path.exists():
            record = load_record(path)
            values = seed_values | {f"bench:{k}": v for k, v in bench_values.items()}
            sections.append(section(record, values))
            if path == BENCHMARK_RECORD:
                bench_values = benchmark_values(record)
    contents = [f"{'  ' if title.startswith('Search ') else ''}- [{title}](#{github_anchor(title)})"
                for title, _ in sections]
    head = [
        "# Experiment report", "",
        "How the designs of the [README](../../README.md) were found and how far their numbers hold: every record in "
        "this folder, each with its table, made by `python -m s4lib readme` from the JSON records beside this page. "
        "Every run of every record holds its whole training config, its network spelled out, so "
        "`python -m s4lib rerun RECORD` re-makes the record from the record alone (`--dry-run` lists its runs).", "",
        "Two words are used strictly here. **Test**: the 10,000 MNIST test images, read once per reported run. "
        "**Validation**: 10,000 images held out of the 60,000 MNIST training images (a fixed split); the other 50,000 "
        "train. Designs are chosen on validation, each search by a rule fixed before its runs, and only the chosen "
        "design is then trained on all 60,000 images and tested. Validation accuracies sit a little below test "
        "accuracies here, since those models train on 50,000 images, not 60,000; the assignment's 99.4% is a test "
        "figure. **v1** is the main model's earlier layout: max-pool after 3 convs, dropout after every conv but the "
        "last, trained with peak lr 0.1 and dropout 0.05. **NCHW** and **channels_last** are two memory layouts of "
        "the same tensors: each channel's map whole, or each pixel's channels side by side; records name the one "
        "each run used.", "",
        *contents]
    return "\n".join(head) + "\n\n" + "\n\n".join(text for _, text in sections) + "\n"


def ablations_section(record: dict, values: dict) -> tuple[str, str]:
    """The ablations on validation images: their table, their pictures and their reading."""
    from .experiments import ablations_markdown
    from .notes import ABLATIONS_INTRO, ABLATIONS_READING

    title = "Ablations: one change at a time, on validation images"
    return title, "\n".join([
        f"## {title}", "", ABLATIONS_INTRO, "", ablations_markdown(record, ABLATIONS_RECORD), "",
        "![final validation accuracy and seconds per epoch of each variant](../../images/ablations.png)", "",
        "![training loss over the first 100 steps of epoch 1, good and broken variants](../../images/first_steps.png)",
        "", fill(ABLATIONS_READING, ablation_values(record), "the ablations")])


def test_set_ablations(record: dict, values: dict) -> tuple[str, str]:
    """The first ablations, scored on the test set: kept as a record, cited for what they informed only."""
    from .notes import TEST_SET_ABLATIONS

    title = "Earlier ablations, scored on the test set"
    return title, f"## {title}\n\n{fill(TEST_SET_ABLATIONS, dict(path=display_path(TEST_SET_ABLATIONS_RECORD)), title)}"


def benchmark_section(record: dict, values: dict) -> tuple[str, str]:
    """The epoch benchmark: its table, the operators of a step, and its reading."""
    from .notes import BENCHMARK_INTRO, BENCHMARK_READING

    title = "Benchmark: training speed"
    profile = (["", "Where a training step's CPU time goes (`torch.profiler`, 20 steps, the same invocation):", "",
                profile_markdown(record)] if "profiles" in record else [])
    return title, "\n".join([f"## {title}", "", BENCHMARK_INTRO, "", benchmark_markdown(record), *profile, "",
                             fill(BENCHMARK_READING, benchmark_values(record), "the benchmark")])


def time_to_accuracy_section(record: dict, values: dict) -> tuple[str, str]:
    """Whole runs of the main and the fast preset, and the levers of their speed, with the epoch benchmark's
    figures for the same levers, named as such."""
    from .notes import TIME_TO_ACCURACY_INTRO, TIME_TO_ACCURACY_READING

    title = "Time to accuracy: whole runs"
    return title, "\n".join([f"## {title}", "", TIME_TO_ACCURACY_INTRO, "", time_to_accuracy_markdown(record), "",
                             fill(TIME_TO_ACCURACY_READING, time_to_accuracy_values(record) | values,
                                  "the time-to-accuracy benchmark")])


def placement_section(record: dict, values: dict) -> tuple[str, str]:
    """Two runs at once against one at a time."""
    from .notes import PLACEMENT_INTRO

    title = "Placement: two runs at once, or one at a time"
    return title, "\n".join([f"## {title}", "", PLACEMENT_INTRO, "", placement_markdown(record)])


def profile_section(record: dict, values: dict) -> tuple[str, str]:
    """Where an epoch goes, layer by layer, for the main model and the fast preset."""
    from .notes import PROFILE_INTRO, PROFILE_READING

    title = "Profile: where an epoch goes"
    return title, "\n".join([f"## {title}", "", PROFILE_INTRO, "", profile_table(record), "",
                             fill(PROFILE_READING, profile_values(record), "the profile")])


def gpu_check_section(record: dict, values: dict) -> tuple[str, str]:
    """What `gpucheck` found on a CUDA GPU."""
    title = "GPU check"
    env = record["environment"]
    lines = [f"## {title}", "", f"`{record['command']}` on {env['gpu']} (compute capability "
             f"{env['compute_capability']}, torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, "
             f"native bf16 {'yes' if env['native_bf16'] else 'no'}), {record['date']}. GPU tests: "
             f"{record['tests'].get('summary', record['tests'].get('skipped'))}.", "",
             "| epoch of the main config | training (s) | test pass (s) |", "|---|---:|---:|"]
    for name, e in record["epochs"].items():
        lines.append(f"| {name} | {e['train_s']:.1f} | {e['test_s']:.2f} |" if "train_s" in e else
                     f"| {name} | not run: {e['skipped']} | |")
    m = record["main_run"]
    lines += ["", f"The main preset's whole run there: {m['run_s']:.0f} s, final test accuracy "
              f"{100 * m['final_test_acc']:.2f}%."]
    return title, "\n".join(lines)


def seeds_section(records: list[dict], seeds_markdown) -> str:
    """Every seeds record in one table, with which rows are presets a user picks and which are the lab's."""
    found = preset_records(records)
    presets = ", ".join(f"`{name}`" for name in found)
    return "\n".join([
        "## Seeds: the full schedule on five seeds", "",
        "Each row is one run of the full schedule on all 60,000 training images, scored at its final epoch on the "
        "test set; nothing is picked. Made by `python -m s4lib seeds --model MODEL` (the command under the table names "
        "each record's flags); the records `seeds_MODEL.json` hold every epoch. The presets a user picks "
        f"({presets}) are the rows trained with their recipe; the others are the test runs of the searches below. "
        "A row names the settings in which its run differs from its model's recipe (`train --help` lists the "
        "recipes; the defaults are the main model's: peak lr 0.4, dropout 0.1). " +
        " ".join(filter(None, (seed_one_paragraph(found), minutes_sentence(records)))), "",
        seeds_markdown(records)])


def minutes_sentence(records: list[dict]) -> str:
    """What the seeds table's minutes are: each run's wall time as its record placed it, so no speed figure."""
    from .experiments import first_config

    paired = list(dict.fromkeys(f"`{first_config(r)['model']}`" for r in records if r.get("placement") == "pairs"))
    if not paired:
        return ""
    return (f"The minutes are each run's wall time on the CPU of its day, two runs at a time with one thread each "
            f"in the rows of {' and '.join(paired)} and one at a time in the others: they compare no designs, the "
            "time to accuracy below does.")


def placement_markdown(record: dict) -> str:
    """Both placements' wall times (median over rounds) for the same runs, and which finished sooner."""
    from .placement import PLACEMENTS

    m = record["median"]
    lines = ["| placement | wall time for the runs (s) | times the slower one's speed |", "|---|---:|---:|"]
    slower = max(m.values())
    lines += [f"| {PLACEMENTS[p]} | {m[p]:.1f} | {slower / m[p]:.2f}x |" for p in PLACEMENTS]
    w = next(r["config"] for r in record["runs"] if r["placement"] == "in_turn")
    lines += ["", f"Each round times {record['runs_per_round']} runs of the main config ({w['num_epochs']} epochs on "
              f"{w['train_subset']:,} training images, each scored every epoch), every run in a fresh process, both "
              f"placements alternating over {record['repeats']} rounds; medians. The faster placement: "
              f"{PLACEMENTS[record['faster']]}, at {max(record['ratio'], 1 / record['ratio']):.2f}x the other's "
              f"speed. Made by `{record['command']}` on "
              f"{record['machine']}, {record['date']}."]
    return "\n".join(lines)


def layer_kinds(design: dict) -> dict[str, tuple[float, float]]:
    """Milliseconds of forward and backward per step, summed over the layers of each kind."""
    kinds: dict[str, list[float]] = {}
    for layer in design["layers"]:
        forward, backward = kinds.setdefault(layer["kind"], [0.0, 0.0])
        kinds[layer["kind"]] = [forward + layer["forward_ms"], backward + layer["backward_ms"]]
    return {k: (f, b) for k, (f, b) in kinds.items()}


def profile_table(record: dict) -> str:
    """Per design: each phase of a training step, each kind of layer forward and backward, the evaluation after an
    epoch, and the arithmetic achieved beside the peak."""
    names, peak = list(record["designs"]), record["peak_gflops"]
    d = record["designs"]
    head = "| ms per hooked training step, unless named | " + " | ".join(f"`{n}`" for n in names) + " |"
    lines = [head, "|---|" + "---:|" * len(names)]
    lines += [f"| {words} | " + " | ".join(f"{d[n]['step_ms'][phase]:.1f}" for n in names) + " |"
              for phase, words in PHASES.items()]
    kinds = list(dict.fromkeys(k for n in names for k in layer_kinds(d[n])))
    for kind in kinds:
        cells = [layer_kinds(d[n]).get(kind) for n in names]
        lines.append(f"| of which {kind}, forward + backward | " +
                     " | ".join(f"{f:.1f} + {b:.1f}" if f is not None else "" for f, b in
                                [c if c else (None, None) for c in cells]) + " |")
    lines += ["| a whole step without the hooks (ms) | " + " | ".join(f"{d[n]['plain_step_ms']:.1f}" for n in names)
              + " |",
              f"| **a training epoch (s)**, {d[names[0]]['batch_size']} images a step, without the hooks | " +
              " | ".join(f"**{d[n]['epoch_s']:.1f}**" for n in names) + " |",
              "| evaluation after an epoch (s): 10,000 + 5,000 images | " +
              " | ".join(f"{d[n]['eval_s']:.1f}" for n in names) + " |",
              "| multiply-adds per image (convs and Linear) | " +
              " | ".join(f"{d[n]['macs_per_image']:,}" for n in names) + " |",
              "| achieved GFLOP/s in training (% of the matmul peak) | " +
              " | ".join(f"{d[n]['achieved_gflops']:.1f} ({100 * d[n]['achieved_gflops'] / peak:.0f}%)"
                         for n in names) + " |"]
    lines += ["", f"Each design in a fresh process, once in each of {record['repeats']} rounds; the table gives "
              f"round {record['median_round']}, the median by the ratio of the two designs' steps. In each: "
              f"{d[names[0]]['steps']} training steps after a warm-up, without hooks, then {d[names[0]]['steps']} "
              "more with hooks around each layer that time it, the first layer's input given a gradient so that its "
              "backward is timed too; the phases are medians per step, the layers means per step. The hooks cost "
              "time of their own, so the epoch and the GFLOP/s come from the steps without them. GFLOP/s: 6 FLOPs "
              "per multiply-add of a training step (forward, and twice as much backward) over the step's time. The "
              "matmul peak, a "
              f"2048x2048 float32 product in the same invocation: {peak:.0f} GFLOP/s. Made by `{record['command']}` "
              f"on {record['machine']}, {record['date']}; `python -m s4lib rerun {display_path(PROFILE_RECORD)}` "
              "re-makes it."]
    return "\n".join(lines)


def profile_values(record: dict) -> dict[str, str]:
    """[[design:epoch]], [[design:pct]] (% of the peak), [[design:KIND]] (its share of a step, forward and backward),
    [[design:phase]] (a phase's share of a step)."""
    values, peak = {}, record["peak_gflops"]
    for name, d in record["designs"].items():
        step = sum(d["step_ms"].values())
        values[f"{name}:epoch"] = f"{d['epoch_s']:.1f} s"
        values[f"{name}:pct"] = f"{100 * d['achieved_gflops'] / peak:.0f}%"
        values |= {f"{name}:{kind}": f"{100 * (f + b) / step:.0f}%" for kind, (f, b) in layer_kinds(d).items()}
        values |= {f"{name}:{phase}": f"{100 * ms / step:.0f}%" for phase, ms in d["step_ms"].items()}
        values[f"{name}:eval"] = f"{d['eval_s']:.1f} s"
    values["ratio"] = f"{epoch_ratio(record['designs']):.1f}x"
    values["ratios"] = ", ".join(f"{epoch_ratio(r):.1f}x" for r in record["rounds"])
    return values
