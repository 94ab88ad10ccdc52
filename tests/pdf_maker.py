"""Small, valid PDF files for tests and benchmarks, written by hand (the format is plain text
with a table of byte offsets): pages of text, pages that are only a scanned picture, and a file
locked with a password."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

PAGE_W, PAGE_H = 612, 792  # US Letter, in points


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def scan_jpeg(lines: Sequence[str], size: tuple[int, int] = (850, 1100)) -> bytes:
    """A page as a scanner would give it: black text on an off-white picture."""
    picture = Image.new("RGB", size, (246, 244, 238))
    draw = ImageDraw.Draw(picture)
    for n, line in enumerate(lines):
        draw.text((80, 90 + 34 * n), line, fill=(20, 20, 20), font_size=26)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def make_pdf(pages: Sequence[Sequence[str] | bytes], encrypted: bool = False) -> bytes:
    """A PDF of ``pages``: each a list of text lines, or the JPEG bytes of a scanned page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    page_numbers = []
    tree_number = len(objects) + 1 + 3 * len(pages)  # after every page's objects
    for page in pages:
        if isinstance(page, bytes):
            width, height = Image.open(io.BytesIO(page)).size
            image = add(
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
                % (width, height, len(page), page)
            )
            content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (PAGE_W, PAGE_H)
            resources = b"<< /XObject << /Im0 %d 0 R >> >>" % image
        else:
            add(b"null")  # keeps three objects per page
            text = [b"BT /F1 11 Tf 14 TL 56 740 Td"]
            text += [b"(%s) '" % _escape(line).encode("latin-1", "replace") for line in page]
            text.append(b"ET")
            content = b"\n".join(text)
            resources = b"<< /Font << /F1 %d 0 R >> >>" % font
        stream = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        page_numbers.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources %s /Contents %d 0 R >>"
                % (tree_number, PAGE_W, PAGE_H, resources, stream)
            )
        )
    kids = b" ".join(b"%d 0 R" % n for n in page_numbers)
    tree = add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_numbers)))
    assert tree == tree_number
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    encrypt = 0
    if encrypted:  # the standard handler with a user password no one knows: readers must ask
        encrypt = add(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (b"ab" * 32, b"cd" * 32))

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if encrypt:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (encrypt, b"01" * 16, b"01" * 16)
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def text_pages(count: int, words_per_page: int = 380, topic: str = "") -> list[list[str]]:
    """``count`` pages of plain prose, each naming its own page number; ``topic`` (a sentence)
    goes on page ``count * 2 // 3`` only, for retrieval to find."""
    vocabulary = [
        "the",
        "committee",
        "reviewed",
        "annual",
        "budget",
        "figures",
        "and",
        "agreed",
        "that",
        "spending",
        "on",
        "roads",
        "schools",
        "parks",
        "libraries",
        "water",
        "supply",
        "and",
        "public",
        "transport",
        "would",
        "follow",
        "the",
        "plan",
        "adopted",
        "last",
        "spring",
    ]
    pages = []
    for number in range(1, count + 1):
        words = [vocabulary[(number * 7 + i * 3) % len(vocabulary)] for i in range(words_per_page)]
        lines = [f"Page {number} of the municipal report."]
        lines += [" ".join(words[i : i + 10]) for i in range(0, len(words), 10)]
        if topic and number == count * 2 // 3:
            lines.insert(3, topic)
        pages.append(lines)
    return pages
