"""A one-line progress bar on stderr, only when a person is watching."""
import sys
import time


class Progress:
    """``done/total`` of a job, its rate in ``unit`` per second, and the last loss given to
    :meth:`update`. Counts are of items; ``per`` items make one ``unit`` (e.g. a million
    pixels one "MP"), and then amounts are shown in units, to one decimal."""

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
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            width = 24
            filled = int(width * min(1, self.done / max(self.total, 1)))
            loss_text = "" if loss is None else f" loss {loss:.5f}"
            unit = "" if self.per == 1 else f" {self.unit}"
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self._shown(self.done)}/{self._shown(self.total)}{unit}{loss_text} "
                              f"{self._shown(rate)} {self.unit}/s")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
