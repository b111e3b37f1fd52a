"""Text from one stored attachment file. Runs inside a worker process.

The real type is sniffed from the file's first bytes (an attachment listed
as `.pdf` may be a Word file, and vice versa); the declared format is only a
tie-breaker. Every file ends as a result dict:

    {"status": ok | empty | needs_ocr | unsupported | failed,
     "text", "page_count", "method", "reason", "kind"}

Nothing here touches the database or the network, so it can run in any
process and be tested on its own.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

# A page whose text layer has fewer characters than this is treated as having none.
MIN_PAGE_CHARS = 20
OCR_DPI = 200
OCR_MAX_PAGES = 60  # about 2-4 s a page: a long scan still fits the per-file time limit
OCR_MAX_PIXELS = 40_000_000  # an absurd page size must not render into gigabytes
# Zip containers (DOCX): refuse what would expand beyond these.
ZIP_MAX_TOTAL_BYTES = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_MAX_ENTRIES = 5000
ZIP_RATIO_MIN_SIZE = 1024 * 1024  # small, highly repetitive XML parts are normal
SUBPROCESS_TIMEOUT_S = 120

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"{\\rtf", "rtf"),
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"II*\x00", "image"),
    (b"MM\x00*", "image"),
    (b"BM", "image"),
)
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


def sniff(path: str | Path, declared_format: str | None = None) -> str:
    """The file's real kind: pdf, docx, xlsx, pptx, zip, ole, rtf, image, html, txt or binary."""
    with open(path, "rb") as f:
        head = f.read(8192)
    stripped = head.lstrip(b"\xef\xbb\xbf")
    for magic, kind in _MAGIC:
        if stripped.startswith(magic):
            if kind == "zip":
                return _zip_kind(path)
            if kind == "image" and magic == b"BM" and (declared_format or "").lower() not in ("bmp", ""):
                break  # "BM" is too short a signature to trust against a declared text format
            return kind
    if b"%PDF-" in head[:1024]:
        return "pdf"  # PDF readers accept junk before the header; so do we
    if _HTML_START.match(stripped) or (declared_format or "").lower() in ("htm", "html") and _looks_textual(head):
        return "html"
    if _looks_textual(head):
        return "txt"
    return "binary"


def _zip_kind(path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return "zip"
    if "word/document.xml" in names:
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    return "zip"


def _looks_textual(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control <= len(head) // 100


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): BOM first, then strict UTF-8, then Windows-1252, then Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


_CTRL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t\u00a0]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(text: str | None) -> str:
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n\n")
    text = _CTRL.sub("", text)
    text = _TRAILING.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def result(status, text=None, *, page_count=None, method=None, reason=None, kind=None) -> dict:
    return {"status": status, "text": text, "page_count": page_count, "method": method, "reason": reason, "kind": kind}


def _text_result(text: str, *, method: str, kind: str, page_count=None, reason=None) -> dict:
    text = clean_text(text)
    if not _has_words(text):
        return result("empty", None, page_count=page_count, method=method, kind=kind, reason=reason or "no text in the file")
    return result("ok", text, page_count=page_count, method=method, kind=kind, reason=reason)


def extract_file(path: str, declared_format: str | None = None, options: dict | None = None) -> dict:
    """Extract the text of the file at `path`. `options`: tesseract_cmd, antiword_cmd (paths or None)."""
    options = options or {}
    kind = "binary"
    try:
        kind = sniff(path, declared_format)
        handler = _HANDLERS.get(kind)
        if handler is None:
            label = kind if kind != "binary" else (declared_format or "unknown binary")
            return result("unsupported", reason=f"{label} files are not supported", kind=kind)
        return handler(path, options) | {"kind": kind}
    except Exception as exc:  # a corrupt file must end as a recorded result, never a crash
        message = " ".join(str(exc).split())[:200] or type(exc).__name__
        return result("failed", reason=f"corrupt {kind.upper()}: {message}", kind=kind)


# --- PDF ---------------------------------------------------------------------

def _pdf(path, options) -> dict:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            return result("failed", reason="encrypted PDF (password required)")
        return result("failed", reason=f"corrupt PDF: {msg}")
    try:
        pages = len(pdf)
        texts: list[str] = []
        scanned: list[int] = []  # pages with no text layer but with images on them
        for i in range(pages):
            page = pdf[i]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                if len(text.strip()) < MIN_PAGE_CHARS and any(
                    True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
                ):
                    scanned.append(i)
                texts.append(text)
            finally:
                page.close()
        if not scanned:
            return _text_result("\n\n".join(texts), method="pdfium", kind="pdf", page_count=pages)
        tesseract = options.get("tesseract_cmd")
        has_layer_text = _has_words("".join(t for i, t in enumerate(texts) if i not in scanned))
        if not tesseract:
            if has_layer_text:
                return _text_result(
                    "\n\n".join(texts), method="pdfium", kind="pdf", page_count=pages,
                    reason=f"{len(scanned)} of {pages} pages are scanned images, not OCRed (tesseract not installed)",
                )
            return result("needs_ocr", page_count=pages, method="pdfium",
                          reason=f"scanned PDF: {len(scanned)} of {pages} pages have no text layer; tesseract not installed")
        ocr_pages = scanned[:OCR_MAX_PAGES]
        for i in ocr_pages:
            page = pdf[i]
            try:
                width, height = page.get_size()
                scale = min(OCR_DPI / 72, (OCR_MAX_PIXELS / max(1.0, width * height)) ** 0.5)
                image = page.render(scale=scale).to_pil()
            finally:
                page.close()
            texts[i] = _ocr_image(image, tesseract)
        skipped = len(scanned) - len(ocr_pages)
        method = "pdfium+tesseract" if has_layer_text else "tesseract"
        reason = f"OCR stopped after {OCR_MAX_PAGES} pages; {skipped} scanned pages not read" if skipped else None
        return _text_result("\n\n".join(texts), method=method, kind="pdf", page_count=pages, reason=reason)
    finally:
        pdf.close()


def _ocr_image(image, tesseract_cmd: str) -> str:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract_cmd
    return pytesseract.image_to_string(image, timeout=SUBPROCESS_TIMEOUT_S)


def _image(path, options) -> dict:
    from PIL import Image, ImageSequence

    tesseract = options.get("tesseract_cmd")
    with Image.open(path) as img:
        frames = getattr(img, "n_frames", 1)
        if not tesseract:
            return result("needs_ocr", page_count=frames, method="image",
                          reason="image file; tesseract not installed")
        texts = []
        for n, frame in enumerate(ImageSequence.Iterator(img)):
            if n >= OCR_MAX_PAGES:
                break
            texts.append(_ocr_image(frame.convert("RGB"), tesseract))
    return _text_result("\n\n".join(texts), method="tesseract", kind="image", page_count=frames)


# --- Word --------------------------------------------------------------------

def zip_problem(path) -> str | None:
    """Why a zip container must not be opened (a zip bomb), or None."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    if len(infos) > ZIP_MAX_ENTRIES:
        return f"zip bomb refused: {len(infos):,} entries (limit {ZIP_MAX_ENTRIES:,})"
    total = sum(i.file_size for i in infos)
    if total > ZIP_MAX_TOTAL_BYTES:
        return f"zip bomb refused: expands to {total:,} bytes (limit {ZIP_MAX_TOTAL_BYTES:,})"
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > ZIP_RATIO_MIN_SIZE and ratio > ZIP_MAX_RATIO:
            return f"zip bomb refused: {info.filename!r} expands {ratio:,.0f}x (limit {ZIP_MAX_RATIO}x)"
    # zipfile stops each member at its declared size and checks its CRC, so
    # declared sizes that lie cannot make python-docx read more than this.
    return None


def _docx(path, options) -> dict:
    problem = zip_problem(path)
    if problem:
        return result("failed", reason=problem)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(path)
    parts: list[str] = []

    def table_lines(table: Table) -> list[str]:
        lines = []
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:
                text = cell.text.strip()
                if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                    cells.append(text)
                for inner in cell.tables:
                    lines.extend(table_lines(inner))
            if cells:
                lines.append(" | ".join(cells))
        return lines

    # Paragraphs and tables in document order.
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(child, document).text)
        elif tag == "tbl":
            parts.append("\n".join(table_lines(Table(child, document))))
    return _text_result("\n".join(parts), method="python-docx", kind="docx", page_count=_docx_pages(path))


def _docx_pages(path) -> int | None:
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("docProps/app.xml")
            if info.file_size > 1024 * 1024:
                return None
            m = re.search(rb"<Pages>(\d+)</Pages>", z.read(info))
            return int(m.group(1)) if m else None
    except (KeyError, zipfile.BadZipFile, ValueError):
        return None


def _doc(path, options) -> dict:
    antiword = options.get("antiword_cmd")
    if not antiword:
        return result("unsupported", reason="legacy Word .doc: antiword not installed")
    proc = subprocess.run(
        [antiword, "-w", "0", "-m", "UTF-8.txt", str(path)],
        capture_output=True, timeout=SUBPROCESS_TIMEOUT_S, check=False,
    )
    if proc.returncode != 0:
        message = " ".join(proc.stderr.decode("utf-8", "replace").split())[:200]
        if "not a word document" in message.lower():
            return result("unsupported", reason="OLE file that is not a Word document (e.g. .xls, .ppt)")
        return result("failed", reason=f"corrupt DOC: antiword: {message or 'exit ' + str(proc.returncode)}")
    return _text_result(proc.stdout.decode("utf-8", "replace"), method="antiword", kind="doc")


# --- text formats --------------------------------------------------------------

def _txt(path, options) -> dict:
    text, encoding = decode_text(Path(path).read_bytes())
    return _text_result(text, method=f"text:{encoding}", kind="txt")


def _html(path, options) -> dict:
    from comments.textutil import html_to_text

    text, encoding = decode_text(Path(path).read_bytes())
    return _text_result(html_to_text(text) or "", method="html", kind="html")


def _rtf(path, options) -> dict:
    from striprtf.striprtf import rtf_to_text

    raw = Path(path).read_bytes().decode("latin-1")  # RTF is 7-bit; escapes carry the rest
    return _text_result(rtf_to_text(raw, errors="ignore"), method="striprtf", kind="rtf")


_HANDLERS = {
    "pdf": _pdf,
    "docx": _docx,
    "ole": _doc,
    "txt": _txt,
    "html": _html,
    "rtf": _rtf,
    "image": _image,
}
