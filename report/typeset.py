"""A small flow typesetter on matplotlib: headings, paragraphs, tables and figures on A4 pages.

Content is placed top to bottom; a block that does not fit on the current page starts a
new one. Paragraphs and table cells take a light markup: ``**bold**`` and ```code```.
Text is measured with matplotlib's own font metrics and wrapped word by word, so what is
measured is what the PDF shows. Fonts are embedded as TrueType (selectable text).
"""
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.textpath import text_to_path  # noqa: E402

PAGE = (8.27, 11.69)  # A4, inches
MARGIN = {"left": 0.7, "right": 0.7, "top": 0.6, "bottom": 0.65}
SERIF, MONO = "STIXGeneral", "DejaVu Sans Mono"
BODY = 9.5  # points
SMALL = 8.5
LEADING = 1.22  # line height / font size
POINT = 1 / 72  # inches
NOTE_COLOUR = "#b03000"

STYLE = {
    "font.family": SERIF,
    "mathtext.fontset": "stix",
    "font.size": SMALL,
    "axes.titlesize": SMALL,
    "axes.labelsize": SMALL,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "pdf.fonttype": 42,
}

_MARKUP = re.compile(r"(\*\*.+?\*\*|`.+?`)")
_WIDTHS = {}


def _font(kind, size):
    if kind == "mono":
        return FontProperties(family=MONO, size=size * 0.86)
    return FontProperties(family=[SERIF, "DejaVu Serif"], size=size, weight="bold" if kind == "bold" else "normal")


def _width(text, kind, size):
    """Width of ``text`` in inches."""
    key = (text, kind, size)
    if key not in _WIDTHS:
        width, _, _ = text_to_path.get_text_width_height_descent(text, _font(kind, size), ismath=False)
        _WIDTHS[key] = width * POINT
    return _WIDTHS[key]


def tokens(markup):
    """Words of a marked-up string as ``(word, kind)``, kind being plain, bold or mono."""
    out, previous = [], " "
    for raw in _MARKUP.split(markup):
        if not raw:
            continue
        if raw.startswith("**"):
            kind, piece = "bold", raw[2:-2]
        elif raw.startswith("`"):
            kind, piece = "mono", raw[1:-1]
        else:
            kind, piece = "plain", raw
        # A word glued to the previous run (no space between) joins it: "`x`," stays one unit.
        glue = bool(out) and not previous[-1:].isspace() and not piece[:1].isspace()
        previous = raw
        for i, word in enumerate(piece.split()):
            if i == 0 and glue:
                out[-1] = out[-1] + [(word, kind)]
            else:
                out.append([(word, kind)])
    return out


def wrap(markup, width, size):
    """Lines of ``markup`` no wider than ``width`` inches, each a list of ``(x, text, kind)``."""
    lines, line, x = [], [], 0.0
    for unit in tokens(markup):
        unit_width = sum(_width(text, kind, size) for text, kind in unit)
        # Between two words of one kind the space is that font's (they are drawn as one string).
        same = line and line[-1][2] == unit[0][1]
        space = _width(" ", unit[0][1] if same else "plain", size)
        if line and x + space + unit_width > width:
            lines.append(line)
            line, x = [], 0.0
        if line:
            x += space
        for text, kind in unit:
            line.append((x, text, kind))
            x += _width(text, kind, size)
    if line:
        lines.append(line)
    return lines


def line_width(line, size):
    x, text, kind = line[-1]
    return x + _width(text, kind, size)


class Document:
    """Pages of one PDF, filled top to bottom; :meth:`close` writes the file."""

    def __init__(self, path, title):
        plt.rcParams.update(STYLE)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No creation date: the same inputs give the same bytes.
        self._pdf = PdfPages(self.path, metadata={"Title": title, "Creator": "report/build_report.py",
                                                  "CreationDate": None})
        self.width = PAGE[0] - MARGIN["left"] - MARGIN["right"]
        self.pages = 0
        self.figures = 0
        self.tables = 0
        #: Number of each labelled table or figure, for references to it further on.
        self.labels = {}
        self._fig = None
        self.new_page()

    # -- pages ----------------------------------------------------------------------------
    def new_page(self):
        self._finish_page()
        self._fig = plt.figure(figsize=PAGE)
        self.pages += 1
        self._y = MARGIN["top"]  # inches from the top edge
        self._text(PAGE[0] / 2, PAGE[1] - MARGIN["bottom"] / 2, str(self.pages), "plain", SMALL, ha="center")

    def _finish_page(self):
        if self._fig is not None:
            self._pdf.savefig(self._fig)
            plt.close(self._fig)

    def close(self):
        self._finish_page()
        self._fig = None
        self._pdf.close()
        return self.pages

    def remaining(self):
        return PAGE[1] - MARGIN["bottom"] - self._y

    def need(self, height):
        """Start a new page unless ``height`` inches still fit on this one."""
        if height > self.remaining() and self._y > MARGIN["top"]:
            self.new_page()

    def space(self, inches):
        self._y += inches

    # -- drawing primitives ---------------------------------------------------------------
    def _text(self, x, y_top, text, kind, size, ha="left", colour="black"):
        """Draw ``text`` with its baseline one font size below ``y_top`` (inches from the top)."""
        baseline = y_top + size * POINT * 0.8
        self._fig.text(x / PAGE[0], 1 - baseline / PAGE[1], text, fontproperties=_font(kind, size),
                       ha=ha, va="baseline", color=colour, parse_math=False)

    def _rule(self, x0, x1, y, width=0.6):
        self._fig.add_artist(Line2D([x0 / PAGE[0], x1 / PAGE[0]], [1 - y / PAGE[1]] * 2,
                                    transform=self._fig.transFigure, color="black", linewidth=width))

    def _lines(self, lines, x, y, size, colour="black", align="left", cell_width=0.0):
        """Draw wrapped lines from ``y``; consecutive words of one kind are drawn as one string."""
        step = size * LEADING * POINT
        for i, line in enumerate(lines):
            shift = cell_width - line_width(line, size) if align == "right" else 0.0
            runs = []
            for word_x, text, kind in line:
                if runs and runs[-1][2] == kind:
                    runs[-1][1] += " " + text if word_x > runs[-1][3] + 1e-9 else text
                else:
                    runs.append([word_x, text, kind, 0.0])
                runs[-1][3] = word_x + _width(text, kind, size)
            for word_x, text, kind, _ in runs:
                self._text(x + shift + word_x, y + i * step, text, kind, size, colour=colour)
        return len(lines) * step

    # -- blocks ---------------------------------------------------------------------------
    def title(self, text, subtitle):
        self._text(MARGIN["left"] + self.width / 2, self._y, text, "bold", 15, ha="center")
        self._y += 15 * POINT * 1.5
        self._text(MARGIN["left"] + self.width / 2, self._y, subtitle, "plain", BODY + 0.5, ha="center")
        self._y += (BODY + 0.5) * POINT * 1.9

    def heading(self, text, size=11.5):
        # Keep a heading with at least three lines of what follows.
        self.need(size * POINT * 1.6 + 3 * BODY * LEADING * POINT)
        self._y += size * POINT * 0.5
        self._text(MARGIN["left"], self._y, text, "bold", size)
        self._y += size * POINT * 1.35

    def paragraph(self, markup, size=BODY, indent=0.0, colour="black", after=0.06):
        lines = wrap(markup, self.width - indent, size)
        height = len(lines) * size * LEADING * POINT
        self.need(min(height, 2 * size * LEADING * POINT))
        step = size * LEADING * POINT
        while lines:
            fit = max(1, int((self.remaining() + 1e-9) // step))
            self._y += self._lines(lines[:fit], MARGIN["left"] + indent, self._y, size, colour)
            lines = lines[fit:]
            if lines:
                self.new_page()
        self._y += after

    def bullets(self, items, size=BODY):
        bullet = 0.14
        for item in items:
            lines = wrap(item, self.width - bullet, size)
            self.need(len(lines) * size * LEADING * POINT)
            self._text(MARGIN["left"] + 0.03, self._y, "•", "plain", size)
            self._y += self._lines(lines, MARGIN["left"] + bullet, self._y, size) + 0.03
        self._y += 0.04

    def note(self, text):
        """A visible remark, e.g. that an input was missing when the report was built."""
        lines = wrap(text, self.width - 0.2, SMALL)
        height = len(lines) * SMALL * LEADING * POINT + 0.12
        self.need(height + 0.05)
        self._fig.add_artist(Rectangle((MARGIN["left"] / PAGE[0], 1 - (self._y + height) / PAGE[1]),
                                       self.width / PAGE[0], height / PAGE[1], transform=self._fig.transFigure,
                                       facecolor="#fff3ec", edgecolor=NOTE_COLOUR, linewidth=0.8))
        self._lines(lines, MARGIN["left"] + 0.1, self._y + 0.06, SMALL, colour=NOTE_COLOUR)
        self._y += height + 0.1

    def _caption(self, label, text, size=SMALL):
        lines = wrap(f"**{label}** {text}", self.width, size)
        return lines, len(lines) * size * LEADING * POINT

    def table(self, header, rows, caption, align=None, max_width=None, size=SMALL, groups=(), label=None,
              spans=()):
        """A booktabs-style table with its caption above.

        ``align`` gives "l" or "r" per column; ``max_width`` (inches or None per column)
        wraps long cells; ``groups`` lists row indices before which a thin rule is drawn;
        ``spans`` = ``[(label, n_columns), ...]`` puts labels over groups of header columns.
        """
        self.tables += 1
        if label:
            self.labels[label] = self.tables
        columns = len(header)
        align = align or ["l"] + ["r"] * (columns - 1)
        max_width = max_width or [None] * columns
        pad = 0.09
        cells = [[f"**{h}**" for h in header]] + [[str(c) for c in row] for row in rows]
        widths = []
        for j in range(columns):
            natural = max((line_width(ln, size) for row in cells for ln in wrap(row[j], 1e9, size)), default=0.0)
            widths.append(natural if max_width[j] is None else min(natural, max_width[j]))
        total = sum(widths) + pad * (columns - 1)
        if total > self.width:
            raise ValueError(f"table '{caption[:40]}...' is {total:.2f} in wide, the page {self.width:.2f} in")
        wrapped = [[wrap(row[j], widths[j], size) for j in range(columns)] for row in cells]
        step = size * LEADING * POINT
        heights = [max(len(c) for c in row) * step + 0.035 for row in wrapped]
        cap_lines, cap_height = self._caption(f"Table {self.tables}.", caption)
        x0 = MARGIN["left"] + (self.width - total) / 2

        def draw_row(row, height):
            x = x0
            for j, lines in enumerate(row):
                self._lines(lines, x, self._y, size, align="right" if align[j] == "r" else "left",
                            cell_width=widths[j])
                x += widths[j] + pad
            self._y += height

        def draw_header():
            self._rule(x0, x0 + total, self._y, 0.9)
            self._y += 0.04
            first = 0
            for text, n in spans:
                left = x0 + sum(widths[:first]) + pad * first
                right = left + sum(widths[first:first + n]) + pad * (n - 1)
                if text:
                    self._text((left + right) / 2, self._y, text, "bold", size, ha="center")
                    self._rule(left + 0.03, right - 0.03, self._y + step + 0.01, 0.4)
                first += n
            if spans:
                self._y += step + 0.05
            draw_row(wrapped[0], heights[0])
            self._rule(x0, x0 + total, self._y - 0.015, 0.5)

        # Caption, header and two rows stay together; a longer table continues on the next page.
        self.need(cap_height + sum(heights[:3]) + (step if spans else 0) + 0.2)
        self._lines(cap_lines, MARGIN["left"], self._y, SMALL)
        self._y += cap_height + 0.05
        draw_header()
        for i in range(1, len(wrapped)):
            if heights[i] + 0.05 > self.remaining():
                self._rule(x0, x0 + total, self._y, 0.9)
                self.new_page()
                draw_header()
            elif i - 1 in groups and i > 1:
                self._rule(x0, x0 + total, self._y - 0.015, 0.3)
            draw_row(wrapped[i], heights[i])
        self._rule(x0, x0 + total, self._y, 0.9)
        self._y += 0.15

    def figure(self, height, draw, caption, label=None):
        """Reserve ``height`` inches across the text width, let ``draw(fig, box)`` fill it
        (``box`` = left, bottom, width, height in inches from the page's bottom-left), then
        put the caption below."""
        self.figures += 1
        if label:
            self.labels[label] = self.figures
        cap_lines, cap_height = self._caption(f"Figure {self.figures}.", caption)
        self.need(height + cap_height + 0.16)
        self._y += 0.06
        box = (MARGIN["left"], PAGE[1] - self._y - height, self.width, height)
        draw(self._fig, box)
        self._y += height + 0.04
        self._lines(cap_lines, MARGIN["left"], self._y, SMALL)
        self._y += cap_height + 0.12


def axes_grid(fig, box, rows, columns, left=0.45, bottom=0.38, right=0.05, top=0.2, wspace=0.35, hspace=0.3,
              **kwargs):
    """A ``rows`` x ``columns`` grid of axes filling ``box`` (inches), margins in inches for tick labels."""
    x, y, w, h = box
    spec = fig.add_gridspec(rows, columns, left=(x + left) / PAGE[0], right=(x + w - right) / PAGE[0],
                            bottom=(y + bottom) / PAGE[1], top=(y + h - top) / PAGE[1],
                            wspace=wspace, hspace=hspace, **kwargs)
    return [[fig.add_subplot(spec[i, j]) for j in range(columns)] for i in range(rows)]
