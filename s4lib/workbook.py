"""Writes backprop.xlsx: the 2-2-2 network trained in live spreadsheet formulas, one sheet per learning rate."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from .backprop import CLASS_VALUES, COLUMNS, LEARNING_RATES, NUM_ITERATIONS, Problem, check_schedule

SUMMARY = "Summary"
INPUT_NAMES = ("i1", "i2", "t1", "t2") + tuple(f"w{k}" for k in range(1, 9))
INPUT_FIRST_ROW = 5  # Summary!B5.. holds i1, i2, t1, t2, w1..w8
LR_FIRST_ROW = 5  # Summary!D5.. holds the learning rates
REPORT_AT = (0, 1, 10, 50, 100)  # iterations whose E_total the summary table shows
HEADER_ROW = 3  # on each learning-rate sheet
FIRST_DATA_ROW = HEADER_ROW + 1  # iteration 0
ROWS_PER_PAGE = 21  # iterations per printed page; the first page is the screenshot

# Column header in the README's notation for each history column.
LABELS = {c: c for c in COLUMNS} | {
    c: f"∂E/∂{c[4:]}" for c in COLUMNS if c.startswith("dE_d")
}
GROUPS = (("Weights", "w1"), ("Forward pass", "h1"), ("Error", "E1"), ("Gradients", "dE_dw5"))

FONT = "Calibri"
INPUT_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FILL = PatternFill("solid", fgColor="E7E6E6")
NUMBER_FORMAT = "0.000000"
# Fixed document dates keep regenerated files identical apart from zip metadata.
DOC_DATE = dt.datetime(2026, 1, 1)


def col(key: str) -> str:
    """Column letter of a history column on a learning-rate sheet."""
    return get_column_letter(COLUMNS.index(key) + 1)


def input_ref(name: str) -> str:
    """Absolute reference to an input cell on the summary sheet."""
    return f"{SUMMARY}!$B${INPUT_FIRST_ROW + INPUT_NAMES.index(name)}"


def sheet_name(lr: float) -> str:
    """Name of the sheet for one learning rate."""
    return f"lr {lr:g}"


def row_formulas(r: int) -> dict[str, str]:
    """Formulas of one iteration row r (r > FIRST_DATA_ROW reads its weights from row r-1)."""
    c = lambda key, row=r: f"{col(key)}{row}"  # noqa: E731 - a cell of this sheet
    lr = "$B$1"
    f = {}
    if r == FIRST_DATA_ROW:
        f["iteration"] = "=0"
        f |= {f"w{k}": f"={input_ref(f'w{k}')}" for k in range(1, 9)}
    else:
        f["iteration"] = f"={c('iteration', r - 1)}+1"
        f |= {f"w{k}": f"={c(f'w{k}', r - 1)}-{lr}*{c(f'dE_dw{k}', r - 1)}" for k in range(1, 9)}
    i1, i2, t1, t2 = (input_ref(n) for n in ("i1", "i2", "t1", "t2"))
    sig = lambda x: f"=1/(1+EXP(-{x}))"  # noqa: E731
    f["h1"] = f"={c('w1')}*{i1}+{c('w2')}*{i2}"
    f["h2"] = f"={c('w3')}*{i1}+{c('w4')}*{i2}"
    f["a_h1"], f["a_h2"] = sig(c("h1")), sig(c("h2"))
    f["o1"] = f"={c('w5')}*{c('a_h1')}+{c('w6')}*{c('a_h2')}"
    f["o2"] = f"={c('w7')}*{c('a_h1')}+{c('w8')}*{c('a_h2')}"
    f["a_o1"], f["a_o2"] = sig(c("o1")), sig(c("o2"))
    f["E1"] = f"=0.5*({t1}-{c('a_o1')})^2"
    f["E2"] = f"=0.5*({t2}-{c('a_o2')})^2"
    f["E_total"] = f"={c('E1')}+{c('E2')}"
    # output deltas (a_o - t) * a_o * (1 - a_o), written inline so each cell reads as its derivation
    d_o1 = f"({c('a_o1')}-{t1})*{c('a_o1')}*(1-{c('a_o1')})"
    d_o2 = f"({c('a_o2')}-{t2})*{c('a_o2')}*(1-{c('a_o2')})"
    f["dE_dw5"], f["dE_dw6"] = f"={d_o1}*{c('a_h1')}", f"={d_o1}*{c('a_h2')}"
    f["dE_dw7"], f["dE_dw8"] = f"={d_o2}*{c('a_h1')}", f"={d_o2}*{c('a_h2')}"
    f["dE_da_h1"] = f"={d_o1}*{c('w5')}+{d_o2}*{c('w7')}"
    f["dE_da_h2"] = f"={d_o1}*{c('w6')}+{d_o2}*{c('w8')}"
    d_h1 = f"{c('dE_da_h1')}*{c('a_h1')}*(1-{c('a_h1')})"
    d_h2 = f"{c('dE_da_h2')}*{c('a_h2')}*(1-{c('a_h2')})"
    f["dE_dw1"], f["dE_dw2"] = f"={d_h1}*{i1}", f"={d_h1}*{i2}"
    f["dE_dw3"], f["dE_dw4"] = f"={d_h2}*{i1}", f"={d_h2}*{i2}"
    return f


def print_like_a_screen(ws, area: str, title_rows: str | None = None) -> None:
    """A3 landscape, one page wide, grid lines and row/column headings, as a spreadsheet looks on screen."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A3
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = True
    ws.print_options.headings = True
    ws.print_area = area
    if title_rows:
        ws.print_title_rows = title_rows


def write_summary(ws, problem: Problem, learning_rates, num_iterations: int) -> None:
    """Title, the input area every formula references, E_total per learning rate and the chart."""
    ws["A1"] = "Backpropagation by hand: 2-2-2 sigmoid network, no biases, E = ½(t1-a_o1)² + ½(t2-a_o2)²"
    ws["A1"].font = Font(name=FONT, bold=True, size=14)
    ws["A2"] = ("Blue cells are the inputs; every other number in this workbook is a live formula. "
                "Change an input and all sheets follow.")
    ws["A2"].font = Font(name=FONT, italic=True)
    ws["A4"], ws["B4"] = "input", "value"
    values = dict(i1=problem.i1, i2=problem.i2, t1=problem.t1, t2=problem.t2,
                  **{f"w{k}": w for k, w in enumerate(problem.w, start=1)})
    for k, name in enumerate(INPUT_NAMES):
        ws.cell(INPUT_FIRST_ROW + k, 1, name)
        cell = ws.cell(INPUT_FIRST_ROW + k, 2, values[name])
        cell.fill = INPUT_FILL
    headers = ["learning rate η", "sheet"] + [f"E_total @ {i}" for i in REPORT_AT if i <= num_iterations]
    for j, h in enumerate(headers):
        ws.cell(4, 4 + j, h)
    for k, lr in enumerate(learning_rates):
        r = LR_FIRST_ROW + k
        ws.cell(r, 4, lr).fill = INPUT_FILL
        ws.cell(r, 5, sheet_name(lr))
        for j, it in enumerate(i for i in REPORT_AT if i <= num_iterations):
            cell = ws.cell(r, 6 + j, f"='{sheet_name(lr)}'!{col('E_total')}{FIRST_DATA_ROW + it}")
            cell.number_format = NUMBER_FORMAT
    for row in ws.iter_rows(min_row=4, max_row=4, max_col=4 + len(headers) - 1):
        for cell in row:
            if cell.value is not None:
                cell.font, cell.fill = Font(name=FONT, bold=True), HEADER_FILL
    ws.column_dimensions["A"].width = 10
    ws.column_dimensions["B"].width = 10
    ws.column_dimensions["C"].width = 4
    ws.column_dimensions["D"].width = 15
    for j in range(5, 6 + len(REPORT_AT)):
        ws.column_dimensions[get_column_letter(j)].width = 13
    chart_row = INPUT_FIRST_ROW + len(INPUT_NAMES) + 2
    ws.add_chart(error_chart(learning_rates, num_iterations), f"A{chart_row}")
    # the chart is 26 cm x 13 cm: about 12 columns and 26 rows of this sheet
    print_like_a_screen(ws, f"A1:L{chart_row + 27}")
    ws.freeze_panes = "A4"


def error_chart(learning_rates, num_iterations: int) -> ScatterChart:
    """Native scatter chart (lines, no markers) of E_total against iteration, one series per learning rate."""
    chart = ScatterChart()
    chart.title = "E_total against iteration for each learning rate η"
    chart.style = 2
    chart.x_axis.title, chart.y_axis.title = "iteration", "E_total"
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.x_axis.scaling.min, chart.x_axis.scaling.max = 0, num_iterations
    chart.y_axis.scaling.min = 0
    chart.y_axis.number_format = "0.00"
    chart.width, chart.height = 26, 13
    last = FIRST_DATA_ROW + num_iterations
    for lr in learning_rates:
        ws_name = sheet_name(lr)
        x = Reference(range_string=f"'{ws_name}'!${col('iteration')}${FIRST_DATA_ROW}:${col('iteration')}${last}")
        y = Reference(range_string=f"'{ws_name}'!${col('E_total')}${FIRST_DATA_ROW}:${col('E_total')}${last}")
        s = Series(y, x, title=f"η = {lr:g}")
        s.marker.symbol = "none"
        s.smooth = False
        chart.series.append(s)
    return chart


def write_lr_sheet(ws, lr_cell: str, num_iterations: int) -> None:
    """One learning rate: header rows and one formula row per iteration."""
    ws["A1"] = "η ="
    ws["A1"].font = Font(name=FONT, bold=True)
    ws["A1"].alignment = Alignment(horizontal="right")
    ws["B1"] = f"={SUMMARY}!{lr_cell}"
    ws["B1"].font = Font(name=FONT, bold=True)
    ws["D1"] = (f"Sheet '{ws.title}'. Each row is one iteration: forward pass, error, gradients. "
                "The next row's weights are w − η·∂E/∂w of this row. ∂E/∂… means ∂E_total/∂….")
    ws["D1"].font = Font(name=FONT, italic=True)
    for label, first in GROUPS:
        ws.cell(HEADER_ROW - 1, COLUMNS.index(first) + 1, label).font = Font(name=FONT, bold=True)
    for j, key in enumerate(COLUMNS, start=1):
        cell = ws.cell(HEADER_ROW, j, LABELS[key])
        cell.font, cell.fill = Font(name=FONT, bold=True), HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(j)].width = 10.5
    for it in range(num_iterations + 1):
        r = FIRST_DATA_ROW + it
        for key, formula in row_formulas(r).items():
            cell = ws.cell(r, COLUMNS.index(key) + 1, formula)
            cell.number_format = "0" if key == "iteration" else NUMBER_FORMAT
    last = FIRST_DATA_ROW + num_iterations
    for r in range(FIRST_DATA_ROW + ROWS_PER_PAGE - 1, last, ROWS_PER_PAGE):
        ws.row_breaks.append(Break(id=r))
    ws.freeze_panes = f"B{FIRST_DATA_ROW}"
    print_like_a_screen(ws, f"A1:{col(COLUMNS[-1])}{last}", title_rows=f"{HEADER_ROW - 1}:{HEADER_ROW}")


def build_workbook(learning_rates=LEARNING_RATES, num_iterations: int = NUM_ITERATIONS,
                   problem: Problem = CLASS_VALUES) -> Workbook:
    """The whole workbook in memory: summary sheet with inputs and chart, then one sheet per learning rate."""
    check_schedule(learning_rates, num_iterations)
    lrs = list(learning_rates)
    if len(set(map(sheet_name, lrs))) != len(lrs):
        raise ValueError(f"learning rates must differ, got {lrs}")
    wb = Workbook()
    write_summary(wb.active, problem, lrs, num_iterations)
    wb.active.title = SUMMARY
    for k, lr in enumerate(lrs):
        write_lr_sheet(wb.create_sheet(sheet_name(lr)), f"$D${LR_FIRST_ROW + k}", num_iterations)
    wb.properties.creator = "s4lib.workbook"
    wb.properties.created = wb.properties.modified = DOC_DATE
    return wb


def write_workbook(path: str | os.PathLike = "backprop.xlsx", learning_rates=LEARNING_RATES,
                   num_iterations: int = NUM_ITERATIONS, problem: Problem = CLASS_VALUES) -> Path:
    """Write the workbook atomically (temp file, then rename) so a failure never leaves half a file."""
    wb = build_workbook(learning_rates, num_iterations, problem)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
