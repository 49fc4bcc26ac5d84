"""Writes backprop.xlsx: the 2-2-2 network trained in live spreadsheet formulas, one sheet per learning rate."""
from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from .backprop import (CLASS_VALUES, COLUMNS, ERRORS, FORWARD, GRADIENTS, LEARNING_RATES, NUM_ITERATIONS, WEIGHTS,
                       Problem, check_schedule, run_all)
from .files import write_bytes_atomic

SUMMARY = "Summary"
INPUT_NAMES = ("i1", "i2", "t1", "t2") + tuple(f"w{k}" for k in range(1, 9))
INPUT_FIRST_ROW = 5  # Summary!B5.. holds i1, i2, t1, t2, w1..w8
LR_FIRST_ROW = 5  # Summary!D5.. holds the learning rates
REPORT_AT = (0, 1, 10, 50, 100)  # iterations whose E_total the summary table shows
REPORT_FIRST_COL = 6  # Summary!F.. holds E_total at those iterations
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
# Fixed document date (core.xml and every zip entry) keeps regenerated files byte-identical.
DOC_DATE = dt.datetime(2026, 1, 1)
ZIP_DATES = (dt.datetime(1980, 1, 1), dt.datetime(2107, 12, 31, 23, 59, 58))  # what a zip entry can hold
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# openpyxl writes a formula cell as <c r="B5" s="3"><f>...</f><v /></c>: no type (so numeric), empty value.
EMPTY_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?)><f>([^<]*)</f>(?:<v\s*/>|<v></v>)</c>')
CORE_DATE = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def col(key: str) -> str:
    """Column letter of a history column on a learning-rate sheet."""
    return get_column_letter(COLUMNS.index(key) + 1)


def input_ref(name: str) -> str:
    """Absolute reference to an input cell on the summary sheet."""
    return f"{SUMMARY}!$B${INPUT_FIRST_ROW + INPUT_NAMES.index(name)}"


def reported_iterations(num_iterations: int) -> list[int]:
    """The iterations of REPORT_AT that a run of num_iterations reaches."""
    return [i for i in REPORT_AT if i <= num_iterations]


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
    headers = ["learning rate η", "sheet"] + [f"E_total @ {i}" for i in reported_iterations(num_iterations)]
    for j, h in enumerate(headers):
        ws.cell(4, 4 + j, h)
    for k, lr in enumerate(learning_rates):
        r = LR_FIRST_ROW + k
        ws.cell(r, 4, lr).fill = INPUT_FILL
        ws.cell(r, 5, sheet_name(lr))
        for j, it in enumerate(reported_iterations(num_iterations)):
            cell = ws.cell(r, REPORT_FIRST_COL + j, f"='{sheet_name(lr)}'!{col('E_total')}{FIRST_DATA_ROW + it}")
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


def check_sheet_names(learning_rates) -> None:
    """Every learning rate gets a sheet of its own: sheets are named with 6 significant digits."""
    names = [sheet_name(lr) for lr in learning_rates]
    if len(set(names)) != len(names):
        raise ValueError(f"learning rates {' '.join(map(repr, learning_rates))} give two sheets the same name "
                         f"({' '.join(repr(n) for n in names)}); make them differ in the first 6 digits")


def build_workbook(learning_rates=LEARNING_RATES, num_iterations: int = NUM_ITERATIONS,
                   problem: Problem = CLASS_VALUES) -> Workbook:
    """The whole workbook in memory: summary sheet with inputs and chart, then one sheet per learning rate."""
    check_schedule(learning_rates, num_iterations)
    lrs = list(learning_rates)
    check_sheet_names(lrs)
    wb = Workbook()
    write_summary(wb.active, problem, lrs, num_iterations)
    wb.active.title = SUMMARY
    for k, lr in enumerate(lrs):
        write_lr_sheet(wb.create_sheet(sheet_name(lr)), f"$D${LR_FIRST_ROW + k}", num_iterations)
    wb.properties.creator = "s4lib.workbook"
    wb.properties.created = wb.properties.modified = doc_date()
    # cached values are only a preview: Excel and LibreOffice still recalculate every formula on load
    wb.calculation.fullCalcOnLoad = True
    return wb


def cached_values(learning_rates=LEARNING_RATES, num_iterations: int = NUM_ITERATIONS,
                  problem: Problem = CLASS_VALUES) -> dict[str, dict[str, float]]:
    """s4lib's value of every formula cell, by sheet and coordinate, as the workbook's formulas compute it."""
    values: dict[str, dict[str, float]] = {SUMMARY: {}}
    for k, (lr, h) in enumerate(run_all(learning_rates, num_iterations, problem).items()):
        for j, it in enumerate(reported_iterations(num_iterations)):
            values[SUMMARY][f"{get_column_letter(REPORT_FIRST_COL + j)}{LR_FIRST_ROW + k}"] = h["E_total"][it]
        sheet = values[sheet_name(lr)] = {"B1": lr}
        for it in range(num_iterations + 1):
            sheet |= {f"{col(key)}{FIRST_DATA_ROW + it}": h[key][it] for key in COLUMNS}
    return values


def doc_date() -> dt.datetime:
    """DOC_DATE, or SOURCE_DATE_EPOCH (seconds since 1970, UTC) when set: the reproducible-builds convention."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return DOC_DATE
    try:
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, got {epoch!r}") from None


def xml_number(x: float) -> str:
    """x as OOXML writes a number: whole numbers without a point, others as repr (round-trips exactly)."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"a cell value must be finite, got {x}")
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def sheet_parts(xlsx: zipfile.ZipFile) -> dict[str, str]:
    """Zip member of each worksheet, by sheet title (from workbook.xml and its relationships)."""
    rels = ElementTree.fromstring(xlsx.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG_REL_NS}}}Relationship")}
    book = ElementTree.fromstring(xlsx.read("xl/workbook.xml"))
    parts = {}
    for sheet in book.iter(f"{{{MAIN_NS}}}sheet"):
        target = targets[sheet.get(f"{{{REL_NS}}}id")]
        # a target is relative to xl/ unless it starts with / (openpyxl writes /xl/worksheets/sheetN.xml)
        parts[sheet.get("name")] = target[1:] if target.startswith("/") else f"xl/{target}"
    return parts


def fill_cached_values(xml: bytes, values: dict[str, float], part: str) -> bytes:
    """Put <v>value</v> into every formula cell of one sheet's XML; every formula and every value must be used."""
    todo = dict(values)

    def fill(m: re.Match) -> bytes:
        coordinate = m.group(1).decode()
        if coordinate not in todo:
            raise ValueError(f"{part}: no cached value for the formula cell {coordinate}")
        return b'<c r="%s"%s><f>%s</f><v>%s</v></c>' % (m.group(1), m.group(2), m.group(3),
                                                        xml_number(todo.pop(coordinate)).encode())

    xml, filled = EMPTY_FORMULA_CELL.subn(fill, xml)
    # a formula cell in any other form than openpyxl's usual one would silently keep no value: refuse instead
    formulas = xml.count(b"<f>") + xml.count(b"<f ")
    if filled != formulas or todo:
        raise ValueError(f"{part}: filled {filled} of {formulas} formula cells; no cell for {sorted(todo)[:5]}")
    return xml


def fix_core_dates(xml: bytes, date: dt.datetime) -> bytes:
    """Set created and modified of docProps/core.xml to date (openpyxl writes the save time into modified)."""
    stamp = date.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    xml, n = CORE_DATE.subn(lambda m: m.group(1) + stamp + m.group(3), xml)
    if n != 2:
        raise ValueError(f"docProps/core.xml: expected a created and a modified date, found {n}")
    return xml


def zip_entry(name: str, date: dt.datetime) -> zipfile.ZipInfo:
    """A zip member header that depends on nothing but name and date (not the clock, not the OS)."""
    when = min(max(date, ZIP_DATES[0]), ZIP_DATES[1])
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # ZipInfo's default is 0 on Windows and 3 elsewhere
    info.external_attr = 0o644 << 16
    return info


def repack(xlsx: bytes, values: dict[str, dict[str, float]], date: dt.datetime) -> bytes:
    """openpyxl's file again, member order kept, with cached values, fixed dates and fixed zip headers."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        parts = sheet_parts(src)
        by_part = {parts[title]: cells for title, cells in values.items()}
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data = fix_core_dates(data, date)
            elif info.filename in by_part:
                data = fill_cached_values(data, by_part[info.filename], info.filename)
            dst.writestr(zip_entry(info.filename, date), data)
    return out.getvalue()


def write_workbook(path: str | os.PathLike = "backprop.xlsx", learning_rates=LEARNING_RATES,
                   num_iterations: int = NUM_ITERATIONS, problem: Problem = CLASS_VALUES) -> Path:
    """Write the workbook byte-reproducibly with cached values, atomically so a failure never leaves half a file."""
    lrs = list(learning_rates)
    wb = build_workbook(lrs, num_iterations, problem)
    values = cached_values(lrs, num_iterations, problem)
    saved = io.BytesIO()
    wb.save(saved)
    path = Path(path)
    write_bytes_atomic(path, repack(saved.getvalue(), values, doc_date()))
    return path


SUMMARY_PICTURE = "workbook_summary.png"  # the Summary sheet: inputs, E_total per learning rate, the chart
# the iterations of one learning rate's sheet in three pictures narrow enough to read on GitHub, each beside the
# iteration column: picture -> the columns it shows
SCREENSHOTS = {"workbook_weights.png": WEIGHTS, "workbook_forward.png": FORWARD + ERRORS,
               "workbook_gradients.png": GRADIENTS}


def render_screenshots(xlsx: Path, images: Path, lr: float = 1.0, dpi: int = 170) -> list[Path]:
    """The Summary sheet and the first page of the sheet of learning rate lr, rendered by LibreOffice from the file
    (so every number is its recalculation), cropped into the pictures SCREENSHOTS names."""
    import tempfile

    from .libreoffice import crop_columns, render_pages_with, save_within

    with tempfile.TemporaryDirectory(prefix="s4-shots-") as tmp:
        summary, sheet = Path(tmp) / "summary.png", Path(tmp) / "sheet.png"
        render_pages_with(xlsx, {"Backpropagation by hand": summary, f"Sheet '{sheet_name(lr)}'": sheet}, dpi=dpi)
        from PIL import Image

        done = [save_within(Image.open(summary), images / SUMMARY_PICTURE)]
        for name, keys in SCREENSHOTS.items():
            span = (COLUMNS.index(keys[0]) + 1, COLUMNS.index(keys[-1]) + 1)
            done.append(crop_columns(sheet, span, images / name))
    return done

