"""A one-line progress bar on stderr, only when a person is watching."""
import sys
import time


class Progress:
    def __init__(self, total, label, enabled=None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.done = total, label, 0
        self.start = self._last = time.perf_counter()

    def update(self, count, loss):
        self.done += count
        now = time.perf_counter()
        # Redrawing every step would cost more than a small training step.
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            width = 24
            filled = int(width * self.done / self.total)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} loss {loss:.5f} {rate:,.0f} img/s")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
