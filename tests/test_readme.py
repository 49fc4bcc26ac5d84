"""The README is the lesson and the index: short, its links resolve, its tables and the report are what the code
and the committed records make now."""
import json
import re
from pathlib import Path

import pytest

from s4lib.lab.report import REPORT, generated_blocks, github_anchor, read_block, report_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
WORD_BUDGET = 4_000


def setup_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def make_would_run(target: str) -> str:
    """The commands `make TARGET` would run here (make -n: printed, not run)."""
    import subprocess

    return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_set_up_has_exactly_the_two_commands():
    assert setup_commands() == ["make reproduce", "make test"]


def test_ci_runs_the_readme_test_command(tmp_path):
    import os
    import subprocess

    fake = tmp_path / "make"  # a make that only says what it was asked to do
    fake.write_text("#!/bin/sh\necho \"make $*\" >> \"$0.log\"\n")
    fake.chmod(0o755)
    path = f"{tmp_path}:/usr/bin:/bin"
    subprocess.run(["bash", str(ROOT / ".ci" / "run")], check=True, env=os.environ | {"PATH": path})
    assert (tmp_path / "make.log").read_text().splitlines() == ["make test"]


def test_make_test_lints_and_runs_the_whole_suite_with_notebooks_under_nbval():
    commands = make_would_run("test")
    assert "ruff check s4lib tests" in commands
    assert "pytest tests notebooks --nbval-lax" in commands


def test_make_check_lints_and_leaves_out_the_notebooks_and_the_slow_tests():
    commands = make_would_run("check")
    assert "ruff check s4lib tests" in commands
    pytest_line = next(line for line in commands.splitlines() if "-m pytest" in line)
    assert '-m "not slow"' in pytest_line and "notebooks" not in pytest_line


def test_make_reproduce_regenerates_everything():
    assert "-m s4lib reproduce" in make_would_run("reproduce")


def test_readme_keeps_its_word_budget():
    assert len(README.split()) <= WORD_BUDGET, f"README.md has {len(README.split())} words, the budget is {WORD_BUDGET}"


def test_the_quick_start_and_the_checklist_come_first_and_the_concept_answers_in_the_first_half():
    lines = README.splitlines()
    headings = [k for k, line in enumerate(lines) if line.startswith("## ")]
    assert [lines[k] for k in headings[:2]] == ["## Quick start", "## Assignment checklist"]
    quick = "\n".join(lines[headings[0]:headings[1]])
    assert headings[0] < 60 and "make reproduce" in quick and "make test" in quick and "Colab" in quick
    assert "(#publishing-it-on-github)" in quick  # the way to hand it in, reached from the first screen
    concepts = lines.index("### Why the network looks like this")
    assert len(" ".join(lines[:concepts]).split()) < len(README.split()) / 2  # in words read, not lines scrolled


@pytest.mark.parametrize("name", sorted(generated_blocks()))
def test_readme_tables_are_what_the_code_makes_now(name):
    assert read_block(README, name) == generated_blocks()[name], \
        f"README block {name} is stale: run `python -m s4lib readme`"


def test_the_report_is_what_the_records_make_now():
    assert REPORT.read_text() == report_markdown(), "the experiment report is stale: run `python -m s4lib readme`"


SECTIONS = {"ablations": "## Ablations", "benchmark": "## Benchmark", "time_to_accuracy": "## Time to accuracy",
            "placement": "## Placement", "profile": "## Profile", "gpu_check": "## GPU check"}


def test_the_report_has_a_section_for_every_committed_record():
    report = REPORT.read_text()
    for path in sorted(p for p in REPORT.parent.glob("*.json") if ".partial" not in p.name):
        record = json.loads(path.read_text())
        kind = record.get("kind")
        if kind is None:  # notebook 02's run: the README's result
            assert "history" in record and "mnist-results" in generated_blocks()
        elif path.name == "ablations_test-set.json":
            assert "## Earlier ablations, scored on the test set" in report and path.name in report
        elif kind == "search":
            assert f"### Search {record['search']}:" in report, path.name
        elif kind == "seeds":
            assert f"Made by `{record['command']}`" in report and f"on {record['machine']}" in report, path.name
            assert f"`python -m s4lib rerun notebooks/results/{path.name}`" in report, path.name
        else:
            assert SECTIONS[kind] in report and f"`{record['command']}`" in report, path.name


def links(text: str) -> list[str]:
    """Every relative link target of a markdown text (pictures included)."""
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


def anchors(path: Path) -> set[str]:
    """The #anchors GitHub gives the headings of a markdown file."""
    return {github_anchor(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("doc", [ROOT / "README.md", REPORT], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(doc):
    for target in links(doc.read_text()):
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name}: {target}"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: {target}: no such heading"


def test_the_anchor_rule_is_githubs():
    assert github_anchor("Part 2: an MNIST CNN under 20,000 parameters") == "part-2-an-mnist-cnn-under-20000-parameters"
    assert github_anchor("Search main-3: more channels, or weight decay") == \
        "search-main-3-more-channels-or-weight-decay"


def numbers_in(text: str) -> set[str]:
    """Every number with two decimals in a text (percentages, losses), as written."""
    return set(re.findall(r"(?<![\d.])\d+\.\d\d(?![\d.])", text))


def test_every_number_of_the_design_answers_comes_from_a_committed_record():
    """The concept answers quote ablations, searches and the main run: each number there is one of theirs."""
    import math
    import statistics

    from s4lib.lab.experiments import runs_by_name
    from s4lib.lab.records import load_record
    from s4lib.lab.report import ablation_values

    results = ROOT / "notebooks" / "results"
    ablations = load_record(results / "ablations.json")
    known = set().union(*(numbers_in(v) for v in ablation_values(ablations).values()))
    losses = [r.get("first_losses") or [] for r in ablations["runs"]]
    known |= {f"{steps[k]:.2f}" for steps in losses for k in (0, 99) if len(steps) > k}  # the first and 100th step
    for path in results.glob("search_*.json"):
        for runs in runs_by_name(load_record(path)["runs"]).values():
            ended = [r["final_test_acc"] for r in runs if r.get("final_test_acc") is not None]
            known |= {f"{100 * statistics.mean(ended):.2f}"} if ended else set()
    main = load_record(results / "s4_main.json")
    configs = [r["config"] for r in ablations["runs"]] + [main["config"]]
    known |= {f"{v:g}" for c in configs for v in c.values() if isinstance(v, float)}
    known |= {f"{c['lr'] / c['div_factor']:g}" for c in configs} | {f"{math.log(10):.2f}"}  # one-cycle's start; ln 10
    known |= {f"{100 * e[k]:.2f}" for e in main["history"] for k in ("test_acc", "train_check_acc") if k in e}
    section = README.split("### Why the network looks like this", 1)[1].split("\n### ", 1)[0]
    assert numbers_in(section) - known == set(), "numbers in the design answers that no committed record holds"
