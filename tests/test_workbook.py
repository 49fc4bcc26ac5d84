"""The workbook: live formulas only, the class values as inputs, and LibreOffice's numbers equal s4lib's."""
import math
import os
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from s4lib.backprop import CLASS_VALUES, COLUMNS, LEARNING_RATES, NUM_ITERATIONS, run_all
from s4lib.libreoffice import recalculated_values
from conftest import needs_libreoffice
from s4lib.workbook import (DOC_DATE, FIRST_DATA_ROW, HEADER_ROW, INPUT_FIRST_ROW, INPUT_NAMES, LABELS,
                            LR_FIRST_ROW, SUMMARY, sheet_name, write_workbook)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "backprop.xlsx"
CHART_NS = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
REPORTED = (0, 1, 10, 50, 100)  # Summary!F..J: E_total at these iterations


def formulas(path):
    wb = load_workbook(path)
    return {ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
            for ws in wb.worksheets}


def poison_cached_values(src, dst):
    """Copy src with every formula's cached value set to -1 and no fullCalcOnLoad; returns the cells changed."""
    changed = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(rb"</f><v>[^<]*</v>", b"</f><v>-1</v>", data)
                changed += n
            elif info.filename == "xl/workbook.xml":
                data = data.replace(b' fullCalcOnLoad="1"', b"")
            zout.writestr(info, data)
    return changed


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    needs_libreoffice()
    # LibreOffice must compute every number itself: hand it the committed workbook with wrong cached values
    # and without the recalculate-on-load flag, so a value read back unrecalculated would be -1
    poisoned = tmp_path_factory.mktemp("poisoned") / "backprop.xlsx"
    n = poison_cached_values(COMMITTED, poisoned)
    assert n == sum(str(v).startswith("=") for cells in formulas(COMMITTED).values() for v in cells.values())
    assert load_workbook(poisoned, data_only=True)[sheet_name(LEARNING_RATES[0])]["B1"].value == -1
    return recalculated_values(poisoned)


def expected_formula_values(histories):
    """s4lib's value of every formula cell, computed independently of s4lib.workbook: sheet -> coordinate -> value."""
    want = {SUMMARY: {}}
    for k, (lr, h) in enumerate(histories.items()):
        for j, it in enumerate(REPORTED):
            want[SUMMARY][f"{'FGHIJ'[j]}{LR_FIRST_ROW + k}"] = h["E_total"][it]
        sheet = want[sheet_name(lr)] = {"B1": lr}
        for it in range(NUM_ITERATIONS + 1):
            for j, key in enumerate(COLUMNS):
                sheet[f"{get_column_letter(j + 1)}{FIRST_DATA_ROW + it}"] = h[key][it]
    return want


def chart_series(path):
    """(x, y) range formulas of every series of the workbook's only chart."""
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1, charts
        root = ElementTree.fromstring(z.read(charts[0]))
    return [(ser.find(f"{CHART_NS}xVal/{CHART_NS}numRef/{CHART_NS}f").text,
             ser.find(f"{CHART_NS}yVal/{CHART_NS}numRef/{CHART_NS}f").text)
            for ser in root.iter(f"{CHART_NS}ser")]


def parse_range(ref):
    """'lr 0.1'!$A$4:$A$104 -> ('lr 0.1', 'A', 4, 'A', 104)."""
    m = re.fullmatch(r"'([^']+)'!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", ref)
    assert m, ref
    sheet, c1, r1, c2, r2 = m.groups()
    return sheet, c1, int(r1), c2, int(r2)


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
    needs_libreoffice()
    # a workbook for other learning rates and length is built from the same formulas
    path = write_workbook(tmp_path / "small.xlsx", learning_rates=[0.3, 3.0], num_iterations=5)
    # per sheet: 6 rows of formulas, B1, and E_total @ 0 and @ 1 on the summary
    assert poison_cached_values(path, tmp_path / "poisoned.xlsx") == 2 * (6 * len(COLUMNS) + 1 + 2)
    values = recalculated_values(tmp_path / "poisoned.xlsx")
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


def test_committed_formula_cells_cache_s4libs_values():
    # previewers, pandas and data_only readers see these cached numbers, not blanks
    live, cached = formulas(COMMITTED), load_workbook(COMMITTED, data_only=True)
    want = expected_formula_values(run_all())
    assert set(live) == set(want)
    for title, cells in live.items():
        formula_cells = {k for k, v in cells.items() if str(v).startswith("=")}
        assert formula_cells == set(want[title]), title
        ws = cached[title]
        for coordinate, w in want[title].items():
            got = ws[coordinate].value
            assert type(got) in (int, float), (title, coordinate, got)
            assert math.isclose(got, w, rel_tol=1e-12, abs_tol=1e-15), (title, coordinate, got, w)


def test_cached_values_read_back_exactly(tmp_path):
    # written at full precision: a fresh file holds s4lib's floats bit for bit
    path = write_workbook(tmp_path / "small.xlsx", learning_rates=[0.3, 3.0], num_iterations=5)
    cached = load_workbook(path, data_only=True)
    for lr, h in run_all([0.3, 3.0], 5).items():
        rows = list(cached[sheet_name(lr)].iter_rows(min_row=FIRST_DATA_ROW, values_only=True))
        assert [list(r) for r in rows] == [[h[key][it] for key in COLUMNS] for it in range(6)]


def test_workbook_still_asks_for_recalculation_on_load():
    with zipfile.ZipFile(COMMITTED) as z:
        calc = ElementTree.fromstring(z.read("xl/workbook.xml")).find(
            "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}calcPr")
    assert calc.get("fullCalcOnLoad") == "1"


@pytest.mark.parametrize("committed", [True, False])
def test_chart_series_cover_every_iteration(tmp_path, committed):
    lrs, n = (LEARNING_RATES, NUM_ITERATIONS) if committed else ([0.3, 3.0], 5)
    path = COMMITTED if committed else write_workbook(tmp_path / "small.xlsx", learning_rates=lrs, num_iterations=n)
    series = chart_series(path)
    assert len(series) == len(lrs)
    for lr, (x, y) in zip(lrs, series):
        for ref, key in ((x, "iteration"), (y, "E_total")):
            column = get_column_letter(COLUMNS.index(key) + 1)
            assert parse_range(ref) == (sheet_name(lr), column, FIRST_DATA_ROW, column, FIRST_DATA_ROW + n), ref


def core_dates(path):
    with zipfile.ZipFile(path) as z:
        core = z.read("docProps/core.xml").decode()
    return re.findall(r"<dcterms:(created|modified)[^>]*>([^<]*)<", core)


def test_two_writes_give_identical_bytes(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "a").mkdir()
    first = write_workbook(tmp_path / "a" / "backprop.xlsx")
    second = write_workbook(tmp_path / "again.xlsx")
    assert first.read_bytes() == second.read_bytes()
    # bytes alone could match by luck within one clock tick: the dates must be the fixed ones
    stamp = DOC_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert core_dates(first) == [("created", stamp), ("modified", stamp)]
    with zipfile.ZipFile(first) as z:
        assert {i.date_time for i in z.infolist()} == {DOC_DATE.timetuple()[:6]}
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}


def test_source_date_epoch_sets_the_dates(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    path = write_workbook(tmp_path / "backprop.xlsx", learning_rates=[0.5], num_iterations=2)
    assert core_dates(path) == [("created", "2023-11-14T22:13:20Z"), ("modified", "2023-11-14T22:13:20Z")]
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    again = write_workbook(tmp_path / "again.xlsx", learning_rates=[0.5], num_iterations=2)
    assert path.read_bytes() == again.read_bytes()


def test_unreadable_source_date_epoch_refuses_and_keeps_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    path = tmp_path / "backprop.xlsx"
    path.write_bytes(b"precious")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        write_workbook(path, learning_rates=[0.5], num_iterations=2)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["backprop.xlsx"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_written_file_has_ordinary_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = tmp_path / "backprop.xlsx"
        for _ in range(2):  # a new file and a rewritten one
            write_workbook(path, learning_rates=[0.5], num_iterations=2)
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "backprop.xlsx"
    path.write_bytes(b"precious")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_workbook(path, learning_rates=[0.5], num_iterations=2)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["backprop.xlsx"]
