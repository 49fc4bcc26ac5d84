"""LibreOffice headless: recalculate a workbook and render its pages to PNG."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import S4Error

INSTALL_HINT = ("install it with: apt-get install -y --no-install-recommends "
                "libreoffice-calc-nogui poppler-utils fonts-crosextra-carlito")
# OOXMLRecalcMode 0 = always recalculate on load, so no cached value is ever trusted.
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
</oor:items>
"""


def find_tool(*names: str) -> str:
    """Path of the first of names on PATH, or an S4Error saying how to install it."""
    for name in names:
        if path := shutil.which(name):
            return path
    raise S4Error(f"{' / '.join(names)} not found on PATH; {INSTALL_HINT}")


def convert(src: str | Path, fmt: str, outdir: str | Path, timeout_s: float = 180) -> Path:
    """Convert src with soffice --convert-to fmt into outdir, in a private profile; returns the new file."""
    soffice = find_tool("soffice", "libreoffice")
    src, outdir = Path(src).resolve(), Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="s4-lo-profile-") as profile:
        # a private profile per call lets runs go in parallel and carries the recalc setting
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
        cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
               "--convert-to", fmt, "--outdir", str(outdir), str(src)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    out = outdir / f"{src.stem}.{fmt.split(':')[0]}"
    if done.returncode != 0 or not out.exists():
        raise S4Error(f"LibreOffice could not convert {src} to {fmt}:\n{done.stdout}{done.stderr}")
    return out


def recalculated_values(xlsx: str | Path) -> dict[str, list[list]]:
    """Every sheet's cell values after LibreOffice recalculated all formulas (full float64 precision)."""
    from openpyxl import load_workbook

    with tempfile.TemporaryDirectory(prefix="s4-recalc-") as out:
        wb = load_workbook(convert(xlsx, "xlsx", out), data_only=True)
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def page_texts(pdf: Path) -> list[str]:
    """Text of each page of a PDF (pdftotext)."""
    pdftotext = find_tool("pdftotext")
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")


def render_page(pdf: Path, page: int, png: Path, dpi: int = 150) -> Path:
    """Render one PDF page (1-based) to PNG and trim the white margin."""
    from PIL import Image, ImageChops

    pdftoppm = find_tool("pdftoppm")
    with tempfile.TemporaryDirectory(prefix="s4-ppm-") as tmp:
        stem = Path(tmp) / "page"
        subprocess.run([pdftoppm, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                        "-singlefile", str(pdf), str(stem)], check=True, capture_output=True)
        img = Image.open(f"{stem}.png").convert("RGB")
        box = ImageChops.difference(img, Image.new("RGB", img.size, "white")).getbbox()
        pad = 12
        if box:
            img = img.crop((max(box[0] - pad, 0), max(box[1] - pad, 0),
                            min(box[2] + pad, img.width), min(box[3] + pad, img.height)))
        png.parent.mkdir(parents=True, exist_ok=True)
        img.save(png, optimize=True)
    return png


def render_pages_with(xlsx: str | Path, wanted: dict[str, Path], dpi: int = 150) -> dict[str, Path]:
    """Render the first PDF page containing each wanted text to its PNG path."""
    with tempfile.TemporaryDirectory(prefix="s4-pdf-") as out:
        pdf = convert(xlsx, "pdf", out)
        texts = page_texts(pdf)
        done = {}
        for needle, png in wanted.items():
            pages = [k for k, t in enumerate(texts, start=1) if needle in t]
            if not pages:
                raise S4Error(f"no page of {xlsx} rendered with the text {needle!r}")
            done[needle] = render_page(pdf, pages[0], png, dpi)
        return done


MAX_WIDTH = 1200  # pixels: a picture wider than this is shrunk before GitHub's page shrinks it further


def grid_lines(dark, length: int) -> list[int]:
    """Positions of the rendered sheet's grid lines along one axis: runs of pixels dark over most of the sheet."""
    xs = [x for x in range(length) if dark[x] > 0.6]
    runs: list[list[int]] = []
    for x in xs:
        if runs and x - runs[-1][-1] <= 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [run[0] for run in runs]


def crop_columns(png: Path, columns: tuple[int, int], out: Path, skip_rows: int = 1) -> Path:
    """A picture of some columns of a rendered sheet (spreadsheet numbers, A = 1, both ends included) beside its
    row headings and column A, without its first skip_rows rows; shrunk to MAX_WIDTH if wider."""
    import numpy as np
    from PIL import Image

    img = Image.open(png).convert("RGB")
    gray = np.asarray(img.convert("L")) < 170
    xs, ys = grid_lines(gray.mean(axis=0), img.width), grid_lines(gray.mean(axis=1), img.height)
    first, last = columns
    if len(xs) < last + 2 or len(ys) < skip_rows + 3:
        raise S4Error(f"{png}: found {len(xs) - 2} columns and {len(ys) - 2} rows, fewer than the crop asks for")
    pixels = np.asarray(img)
    keep_x = np.r_[xs[0]:xs[2] + 1, xs[first]:xs[last + 1] + 1]  # row headings and column A, then the columns
    keep_y = np.r_[ys[0]:ys[1] + 1, ys[1 + skip_rows] + 1:ys[-1] + 1]  # column letters, then the rows kept
    piece = Image.fromarray(pixels[np.ix_(keep_y, keep_x)])
    canvas = Image.new("RGB", (piece.width + 24, piece.height + 24), "white")
    canvas.paste(piece, (12, 12))
    return save_within(canvas, out)


def save_within(img, out: Path, max_width: int = MAX_WIDTH) -> Path:
    """Save a picture, shrunk (keeping its proportions) where it is wider than max_width."""
    from PIL import Image

    if img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, optimize=True)
    return out
