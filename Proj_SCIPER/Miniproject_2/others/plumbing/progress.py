"""Progress on stderr: a bar redrawn in place for a person watching a terminal, or a plain
line every few seconds for a log."""
import sys
import time

#: Seconds between redraws of the bar, and between lines in ``"lines"`` mode.
REDRAW_SECONDS, LINE_SECONDS = 0.2, 5.0


class Progress:
    """``done/total`` of a job, its rate in ``unit`` per second, and the last loss given to
    :meth:`update`. Counts are of items; ``per`` items make one ``unit`` (e.g. a million
    pixels one "MP"), and then amounts are shown in units, to one decimal.

    ``enabled``: ``True`` redraws a bar in place, ``"lines"`` writes a full line every
    :data:`LINE_SECONDS` and at the end (what a log file or a pipe can hold), ``False``
    shows nothing, ``None`` draws the bar when the stream is a terminal and nothing otherwise.
    """

    def __init__(self, total, label, enabled=None, stream=None, unit="img", per=1):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.done = total, label, 0
        self.unit, self.per = unit, per
        self.start = self._last = time.perf_counter()

    def _shown(self, count):
        return f"{count:,.0f}" if self.per == 1 else f"{count / self.per:,.1f}"

    def update(self, count, loss=None):
        self.done += count
        now = time.perf_counter()
        # Redrawing every step would cost more than a small training step.
        every = LINE_SECONDS if self.enabled == "lines" else REDRAW_SECONDS
        if self.enabled and (now - self._last > every or self.done >= self.total):
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            loss_text = "" if loss is None else f" loss {loss:.5f}"
            unit = "" if self.per == 1 else f" {self.unit}"
            counts = (f"{self._shown(self.done)}/{self._shown(self.total)}{unit}{loss_text} "
                      f"{self._shown(rate)} {self.unit}/s")
            if self.enabled == "lines":
                self.stream.write(f"{self.label}: {counts}\n")
            else:
                width = 24
                filled = int(width * min(1, self.done / max(self.total, 1)))
                self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {counts}")
            self.stream.flush()

    def close(self):
        if self.enabled is True:
            self.stream.write("\n")
            self.stream.flush()
