"""The workbook: live formulas only, the class values as inputs, and LibreOffice's numbers equal s4lib's."""
import math
from pathlib import Path

import pytest
from openpyxl import load_workbook

from s4lib.backprop import CLASS_VALUES, COLUMNS, LEARNING_RATES, NUM_ITERATIONS, run_all
from s4lib.libreoffice import recalculated_values
from s4lib.workbook import (FIRST_DATA_ROW, HEADER_ROW, INPUT_FIRST_ROW, INPUT_NAMES, LABELS, LR_FIRST_ROW,
                            SUMMARY, sheet_name, write_workbook)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "backprop.xlsx"


def formulas(path):
    wb = load_workbook(path)
    return {ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
            for ws in wb.worksheets}


@pytest.fixture(scope="module")
def recalculated():
    return recalculated_values(COMMITTED)


def test_committed_workbook_is_what_the_generator_writes_now(tmp_path):
    fresh = write_workbook(tmp_path / "backprop.xlsx")
    assert formulas(COMMITTED) == formulas(fresh), "backprop.xlsx is stale: run `python -m s4lib workbook`"


def test_inputs_hold_exactly_the_class_values():
    ws = load_workbook(COMMITTED)[SUMMARY]
    want = dict(i1=0.05, i2=0.10, t1=0.01, t2=0.99,
                **{f"w{k}": w for k, w in enumerate(CLASS_VALUES.w, start=1)})
    got = {ws.cell(INPUT_FIRST_ROW + k, 1).value: ws.cell(INPUT_FIRST_ROW + k, 2).value
           for k in range(len(INPUT_NAMES))}
    assert got == want
    assert all(type(v) is float for v in got.values())
    lrs = [ws.cell(LR_FIRST_ROW + k, 4).value for k in range(len(LEARNING_RATES))]
    assert lrs == list(LEARNING_RATES)


def test_every_computed_cell_is_a_formula():
    wb = load_workbook(COMMITTED)
    for lr in LEARNING_RATES:
        ws = wb[sheet_name(lr)]
        assert [c.value for c in ws[HEADER_ROW]] == [LABELS[c] for c in COLUMNS]
        assert ws.max_row == FIRST_DATA_ROW + NUM_ITERATIONS
        assert str(ws["B1"].value).startswith(f"={SUMMARY}!")
        for row in ws.iter_rows(min_row=FIRST_DATA_ROW):
            for c in row:
                assert isinstance(c.value, str) and c.value.startswith("="), (ws.title, c.coordinate, c.value)


def test_first_weights_and_every_input_use_reference_the_input_area():
    ws = load_workbook(COMMITTED)[sheet_name(LEARNING_RATES[0])]
    # no number is typed into a formula except the constants of the math itself (0.5, 1)
    for row in ws.iter_rows(min_row=FIRST_DATA_ROW):
        for c in row:
            for literal in ("0.05", "0.1", "0.01", "0.99", "0.15", "0.2", "0.25", "0.3", "0.4", "0.45", "0.55"):
                assert literal not in c.value.replace("0.5*", ""), (c.coordinate, c.value)


def test_libreoffice_recalculation_equals_s4lib_history(recalculated):
    histories = run_all()
    for lr, h in histories.items():
        rows = recalculated[sheet_name(lr)]
        assert rows[0][1] == lr
        for it in range(NUM_ITERATIONS + 1):
            row = rows[FIRST_DATA_ROW - 1 + it]
            for j, key in enumerate(COLUMNS):
                want, got = h[key][it], row[j]
                assert isinstance(got, (int, float)), (lr, it, key, got)
                assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-300), (lr, it, key, got, want)


def test_summary_table_reports_the_history(recalculated):
    histories = run_all()
    rows = recalculated[SUMMARY]
    for k, lr in enumerate(LEARNING_RATES):
        r = rows[LR_FIRST_ROW - 1 + k]
        assert r[3] == lr
        for col, it in zip(range(5, 10), (0, 1, 10, 50, 100)):
            assert math.isclose(r[col], histories[lr]["E_total"][it], rel_tol=1e-9)


def test_generator_changes_follow_the_inputs(tmp_path):
    # a workbook for other learning rates and length is built from the same formulas
    path = write_workbook(tmp_path / "small.xlsx", learning_rates=[0.3, 3.0], num_iterations=5)
    values = recalculated_values(path)
    h = run_all([0.3, 3.0], 5)
    for lr in (0.3, 3.0):
        got = [row[COLUMNS.index("E_total")] for row in values[sheet_name(lr)][FIRST_DATA_ROW - 1:]]
        assert got == pytest.approx(list(h[lr]["E_total"]), rel=1e-9)


@pytest.mark.parametrize("lrs, n", [([], 100), ([0.1, -0.2], 100), ([0.1], 0), ([0.5, 0.5], 10)])
def test_bad_arguments_leave_an_existing_workbook_intact(tmp_path, lrs, n):
    path = tmp_path / "backprop.xlsx"
    path.write_bytes(b"precious")
    with pytest.raises(ValueError):
        write_workbook(path, learning_rates=lrs, num_iterations=n)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["backprop.xlsx"]
