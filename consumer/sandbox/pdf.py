"""A tiny PDF 1.4 writer: one A4 page of text lines, for the document store's certificates.

The bytes depend only on the text (no dates, no ids), so a test can compare two downloads,
and the cross-reference table holds each object's true byte offset, so strict readers open
the file without repairing it.
"""

from __future__ import annotations

from collections.abc import Sequence

_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"  # the binary comment marks the file as binary
_TITLE_SIZE = 18
_LINE_SIZE = 12
_LEFT = 72
_TOP = 770
_LINE_STEP = 24


def text_pdf(title: str, lines: Sequence[str] = ()) -> bytes:
    """A valid one-page PDF: `title` in large type, then each of `lines`."""
    content = _page_content(title, lines)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    return _assemble(objects)


def certificate_pdf(certificate_id: str) -> bytes:
    """The certificate the document store serves at `certificati/<id>.pdf`."""
    return text_pdf("Certificato", [f"Identificativo: {certificate_id}"])


def _page_content(title: str, lines: Sequence[str]) -> bytes:
    parts = [b"BT", b"/F1 %d Tf" % _TITLE_SIZE, b"%d %d Td" % (_LEFT, _TOP)]
    parts.append(b"(%s) Tj" % _pdf_string(title))
    parts.append(b"/F1 %d Tf" % _LINE_SIZE)
    for line in lines:
        parts.append(b"0 -%d Td (%s) Tj" % (_LINE_STEP, _pdf_string(line)))
    parts.append(b"ET")
    return b"\n".join(parts)


def _pdf_string(text: str) -> bytes:
    """A literal string's inside: WinAnsi bytes (others as `?`), `\\ ( )` escaped."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _assemble(objects: Sequence[bytes]) -> bytes:
    """Header, numbered objects, the xref table with their offsets, trailer."""
    out = bytearray(_HEADER)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)
