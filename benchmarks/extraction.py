"""Attachment text extraction throughput: `python benchmarks/extraction.py [--pdfs 200 --pages 10]`.

Generates N multi-page PDFs with a real text layer (fpdf2, ~450 words a page),
then extracts them all through the same time-limited process pool the
pipeline uses (`TimedPool` + `extract_file`), once with 1 process and once
with 2, and prints pages per second, files per second and the speed-up.
`--ocr N` adds a run over N single-page scanned PDFs (Tesseract), the slow path.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import tempfile
import time
from pathlib import Path

from comments.attachments.extract import extract_file
from comments.attachments.pool import TimedPool

WORDS = (
    "the rule would require providers to report directory data every ninety days which burdens small "
    "practices and rural clinics while patients gain accurate listings of network adequacy and telehealth "
    "services we urge the agency to phase in requirements align standards with existing exchanges"
).split()


def make_pdf(pages: int, rng: random.Random) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        # about 450 words per page, like a dense comment letter
        for _ in range(6):
            pdf.multi_cell(0, 5, " ".join(rng.choice(WORDS) for _ in range(75)))
            pdf.ln(2)
    return bytes(pdf.output())


def make_scanned_pdf(rng: random.Random) -> bytes:
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 28)
    except OSError:
        font = ImageFont.load_default(size=28)
    for line in range(40):
        draw.text((100, 100 + line * 48), " ".join(rng.choice(WORDS) for _ in range(12)), fill=0, font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=0, y=0, w=210)
    return bytes(pdf.output())


def measure(paths: list[Path], workers: int, options: dict) -> tuple[float, int, dict]:
    jobs = [(str(p), (str(p), "pdf", options)) for p in paths]
    with TimedPool(extract_file, workers=workers, time_limit=300) as pool:
        # start-up (forkserver + imports) is excluded: warm the workers on one file first
        list(pool.run(jobs[:workers]))
        started = time.perf_counter()
        results = [out for _, out in pool.run(jobs)]
        seconds = time.perf_counter() - started
    pages = sum(r.get("page_count") or 0 for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return seconds, pages, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=200)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--ocr", type=int, default=0, help="also OCR this many scanned one-page PDFs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rng = random.Random(7)
    options = {"tesseract_cmd": shutil.which("tesseract"), "antiword_cmd": None}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        # fpdf2 is slow to write; 20 distinct letters, cycled, cost the extractor the same
        letters = [make_pdf(args.pages, rng) for _ in range(min(20, args.pdfs))]
        paths = []
        for n in range(args.pdfs):
            path = Path(tmp) / f"{n}.pdf"
            path.write_bytes(letters[n % len(letters)])
            paths.append(path)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {args.pdfs} PDFs x {args.pages} pages ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
        base = None
        for workers in args.workers:
            seconds, pages, statuses = measure(paths, workers, options)
            base = base or pages / seconds
            print(
                f"text layer, {workers} process(es): {pages:,} pages in {seconds:.2f} s = "
                f"{pages / seconds:,.0f} pages/s, {len(paths) / seconds:,.1f} files/s "
                f"(x{pages / seconds / base:.2f}) {statuses}"
            )
        if args.ocr:
            if not options["tesseract_cmd"]:
                print("OCR: tesseract not installed, skipped")
                return
            scans = []
            for n in range(args.ocr):
                path = Path(tmp) / f"scan-{n}.pdf"
                path.write_bytes(make_scanned_pdf(rng))
                scans.append(path)
            for workers in args.workers:
                seconds, pages, statuses = measure(scans, workers, options)
                print(f"OCR (200 dpi), {workers} process(es): {pages} pages in {seconds:.2f} s = {pages / seconds:.2f} pages/s {statuses}")


if __name__ == "__main__":
    main()
