"""``n2n denoise`` on many pictures: which files, where each one goes, what was done.

Everything that can be known before the first picture is denoised is checked first (every
input exists, every output has a known format and a folder, no two inputs share an output,
outputs that exist are either skipped or replaced as asked), so a long batch does not fail
on its last file for a reason its first line could have given.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path

from .denoise import check_format, check_output, picture_format

#: The output name of each input unless ``--name`` says otherwise.
DEFAULT_PATTERN = "{stem}{suffix}"
#: The fields a ``--name`` pattern may use.
PATTERN_FIELDS = ("stem", "suffix", "name")


@dataclass
class Job:
    source: Path
    output: Path


@dataclass
class Summary:
    """What happened to each picture of a batch."""

    done: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{len(self.done)} denoised, {len(self.skipped)} skipped, {len(self.failed)} failed"
        return ([head] + [f"  skipped {path}: {why}" for path, why in self.skipped]
                + [f"  failed {path}: {why}" for path, why in self.failed])


def check_pattern(pattern: str) -> str:
    """``pattern`` if it names only :data:`PATTERN_FIELDS` and keeps outputs in their folder."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        raise ValueError(f"--name {pattern!r}: {exc}") from None
    unknown = sorted(fields - set(PATTERN_FIELDS))
    if unknown:
        raise ValueError(f"--name {pattern!r}: unknown field {{{unknown[0]}}}; "
                         f"use {', '.join('{' + f + '}' for f in PATTERN_FIELDS)}")
    if "/" in pattern or os.sep in pattern:
        raise ValueError(f"--name {pattern!r}: a name, not a path (outputs go to --out-dir)")
    return pattern


def _pictures(folder: Path, recursive: bool) -> list[Path]:
    """The files of ``folder`` (and below, if ``recursive``) that Pillow can read by suffix."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and not p.name.startswith(".") and picture_format(p))


def plan(inputs, out_dir, pattern: str = DEFAULT_PATTERN, recursive: bool = False) -> list[Job]:
    """One :class:`Job` per picture of ``inputs`` (files, or folders of pictures), each output
    in ``out_dir`` named by ``pattern`` (a folder keeps its subfolders below ``out_dir``).
    ``ValueError`` for an input that does not exist, a folder without pictures, or two
    inputs that would write the same output."""
    check_pattern(pattern)
    out_dir, jobs = Path(out_dir), []
    for given in map(Path, inputs):
        if given.is_dir():
            pictures = _pictures(given, recursive)
            if not pictures:
                raise ValueError(f"{given}: no pictures in this folder"
                                 + ("" if recursive else " (add --recursive to look in its subfolders)"))
            pairs = [(p, out_dir / p.parent.relative_to(given)) for p in pictures]
        elif given.is_file():
            pairs = [(given, out_dir)]
        else:
            raise ValueError(f"{given}: no such file or folder")
        for source, folder in pairs:
            name = pattern.format(stem=source.stem, suffix=source.suffix, name=source.name)
            jobs.append(Job(source, folder / name))
    seen = {}
    for job in jobs:
        key = os.path.normcase(os.path.abspath(job.output))
        if key in seen:
            raise ValueError(f"{seen[key]} and {job.source} would both be written to {job.output}; "
                             "use --name with {name} or {suffix} to tell them apart")
        seen[key] = job.source
    return jobs


def check_jobs(jobs: list[Job], overwrite: bool, resume: bool) -> tuple[list[Job], list[tuple[Path, str]]]:
    """``(to_do, skipped)``: the jobs to run, and the ``(source, why)`` of those whose output
    exists and ``resume`` skips. Creates the output folders. ``ValueError`` if an output
    exists and neither ``resume`` nor ``overwrite`` was given, or if an output cannot be written."""
    for job in jobs:
        check_format(job.output)
    existing = [job for job in jobs if job.output.exists()]
    if existing and not (resume or overwrite):
        raise ValueError(f"{len(existing)} of the outputs exist already (e.g. {existing[0].output}): add "
                         "--resume to skip them, or --overwrite to replace them")
    skipped = [(job.source, f"{job.output} exists") for job in existing] if resume else []
    to_do = [job for job in jobs if not (resume and job.output.exists())]
    for folder in sorted({job.output.parent for job in to_do}):
        folder.mkdir(parents=True, exist_ok=True)
    for job in to_do:
        check_output(job.source, job.output, overwrite)
    return to_do, skipped
