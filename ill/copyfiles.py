"""The scans of delivered copies (原文传递): checked, kept outside the web root, and deleted when they expire.

A scan is accepted only when it is a PDF that a PDF reader can open (the `%PDF-` signature and a full parse with
pypdf, docs/decisions/0015-pdf-uploads.md), is not encrypted, has at least one page and is no larger than the
consortium's limit. It is stored as `<request id>-<random token>.pdf` in the copies folder: $BALIS_COPIES, else
`copies/` beside the SQLite store (the home folder, $BALIS_HOME, by default), else `copies/` in the home folder.
The portal serves it only through the reader's own request page; nothing under the folder is a web address.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ill.errors import InvalidRequest
from members import paths

SIGNATURE = b"%PDF-"
COPIES_ENV = "BALIS_COPIES"


@dataclass(frozen=True, slots=True)
class Scan:
    """A checked scan: its bytes and page count."""

    data: bytes
    pages: int

    @property
    def size(self) -> int:
        return len(self.data)


def folder_for(store_url: str) -> Path:
    """Where the copies of the store at `store_url` are kept (see the module's docstring)."""
    env = os.environ.get(COPIES_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if store_url.startswith("sqlite:///"):
        db = store_url.removeprefix("sqlite:///")
        if db and db != ":memory:":
            return Path(db).resolve().parent / "copies"
    return paths.home() / "copies"


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check(data: bytes, *, max_mb: float, request_id: int) -> Scan:
    """The upload checked as a PDF within `max_mb`; InvalidRequest says what is wrong and what to do."""
    where = f"申请单 {request_id}"
    if not data:
        raise InvalidRequest(f"{where}: 没有收到文件，请选择扫描件 PDF (no file was uploaded: choose the scan, a PDF)")
    if len(data) > max_mb * 1_000_000:
        raise InvalidRequest(f"{where}: 文件 {mb(len(data))} 超过 {max_mb:g} MB 上限；请降低扫描分辨率或分成几个文件 "
                             f"(the file is larger than the {max_mb:g} MB limit: scan at a lower resolution)")
    if not data.startswith(SIGNATURE):
        raise InvalidRequest(f"{where}: 只接受 PDF 文件，此文件不是 PDF (only PDF files are accepted; this file does "
                             f"not start with %PDF-: save or export the scan as PDF)")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidRequest(f"{where}: PDF 有密码保护，读者无法打开；请上传未加密的扫描件 (the PDF is encrypted: "
                                 f"upload it without a password)")
        pages = len(reader.pages)
        for page in reader.pages:  # a file whose pages cannot be read is not delivered
            page.mediabox  # noqa: B018 - reading it parses the page
    except InvalidRequest:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise InvalidRequest(f"{where}: PDF 文件已损坏，无法打开 ({type(exc).__name__}: {exc}); 请重新扫描或重新导出 "
                             f"(the PDF cannot be read: scan or export it again)") from None
    if pages < 1:
        raise InvalidRequest(f"{where}: PDF 没有页面 (the PDF has no pages)")
    return Scan(data, pages)


def save(folder: Path, request_id: int, scan: Scan) -> str:
    """Write the scan under a name nobody can guess; returns the name (kept on the request)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{int(request_id)}-{secrets.token_hex(16)}.pdf"
    target = folder / name
    partial = folder / f".{name}.part"
    with open(partial, "wb") as fh:
        fh.write(scan.data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(partial, 0o600)
    partial.replace(target)
    return name


def path(folder: Path, name: str) -> Path:
    """The file of a stored name (names are made by `save`: no folder part)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise InvalidRequest(f"not a stored copy's name: {name!r}")
    return folder / name


def delete(folder: Path, name: str | None) -> bool:
    """Delete a stored copy; True when a file was removed."""
    if not name:
        return False
    try:
        path(folder, name).unlink()
        return True
    except FileNotFoundError:
        return False
