#!/usr/bin/env python3
"""Writes the PDF fixtures of the document loader tests (run once; the PDFs are committed).

two_pages.pdf  a minimal valid 2-page PDF 1.4 (Helvetica, WinAnsiEncoding, Info /Title)
encrypted.pdf  the same document encrypted with the standard security handler (RC4 40-bit, R2),
               user password "secret": it cannot be opened without the password
corrupt.pdf    a PDF header followed by a truncated body (no xref, no trailer)

Usage: python3 make_pdfs.py [output_dir]   (defaults to the directory of this script)
"""
import hashlib
import os
import struct
import sys

PAGES = [
    [(14, b"Page one heading"),
     (11, b"The first page talks about lighthouses."),
     (11, b"Caf\xe9 cr\xe8me is served at noon.")],  # WinAnsi bytes for "Café crème"
    [(11, b"The second page covers ferries and timetables."),
     (11, b"It ends here.")],
]
INFO = {b"Title": b"Two Page Sample", b"Author": b"jrvs tests", b"Producer": b"make_pdfs.py"}
FILE_ID = hashlib.md5(b"jrvs two_pages fixture").digest()

# Standard security handler constants (PDF 1.7, 7.6.3.3).
PAD = bytes([0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA,
             0x01, 0x08, 0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE,
             0x64, 0x53, 0x69, 0x7A])
PERMISSIONS = -44


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def padded(password):
    return (password + PAD)[:32]


class Security:
    """RC4 40-bit, revision 2 (algorithms 1, 2, 3 and 4 of the PDF specification)."""

    def __init__(self, user, owner):
        self.o = rc4(hashlib.md5(padded(owner)).digest()[:5], padded(user))
        digest = hashlib.md5(padded(user) + self.o + struct.pack("<i", PERMISSIONS) + FILE_ID)
        self.key = digest.digest()[:5]
        self.u = rc4(self.key, PAD)

    def encrypt(self, num, data):
        object_key = hashlib.md5(self.key + num.to_bytes(3, "little") + b"\0\0").digest()[:10]
        return rc4(object_key, data)


def pdf_string(num, data, security):
    if security:
        data = security.encrypt(num, data)
    return b"<" + data.hex().encode() + b">"


def content_stream(lines):
    out = [b"BT", b"72 720 Td"]
    first = True
    for size, text in lines:
        if not first:
            out.append(b"0 -%d Td" % (size + 6))
        first = False
        escaped = text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        out.append(b"/F1 %d Tf (%s) Tj" % (size, escaped))
    out.append(b"ET")
    return b"\n".join(out) + b"\n"


def build(security=None):
    # Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then (page, contents) pairs, then encrypt.
    objects = {}
    page_nums = []
    num = 5
    for lines in PAGES:
        page_nums.append(num)
        stream = content_stream(lines)
        if security:
            stream = security.encrypt(num + 1, stream)
        objects[num] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                        b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (num + 1))
        objects[num + 1] = (b"<< /Length %d >>\nstream\n" % len(stream)) + stream + b"\nendstream"
        num += 2
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % n for n in page_nums)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_nums))
    objects[3] = (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                  b"/Encoding /WinAnsiEncoding >>")
    objects[4] = b"<< " + b" ".join(b"/" + k + b" " + pdf_string(4, v, security)
                                    for k, v in INFO.items()) + b" >>"
    trailer_extra = b""
    if security:
        objects[num] = (b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
                        % (security.o.hex().encode(), security.u.hex().encode(), PERMISSIONS))
        trailer_extra = b" /Encrypt %d 0 R" % num
        num += 1

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for n in sorted(objects):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objects[n] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f \n"
    for n in range(1, size):
        out += b"%010d 00000 n \n" % offsets[n]
    file_id = FILE_ID.hex().encode()
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R /ID [<%s> <%s>]%s >>\n"
            % (size, file_id, file_id, trailer_extra))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(out_dir, "two_pages.pdf"), "wb") as f:
        f.write(build())
    with open(os.path.join(out_dir, "encrypted.pdf"), "wb") as f:
        f.write(build(Security(user=b"secret", owner=b"owner-secret")))
    with open(os.path.join(out_dir, "corrupt.pdf"), "wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n"
                b"2 0 obj << /Type /Pages /Kids [3 0 R] /Cou\x00\x17\xff truncated download")


if __name__ == "__main__":
    main()
