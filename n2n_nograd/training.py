"""A training run: epochs of ``Model.train``, validation PSNR after each, and
everything needed to follow, resume or inspect the run kept on disk.

A run directory holds:

``run.json``        how the run was started: implementation, the model's
                    effective configuration, data folder, subset, and the
                    validation input PSNR (for the plots).
``checkpoint.pkl``  the model after the last finished epoch, or at Ctrl-C.
``best.pkl``        the model of the epoch with the best validation PSNR.
``metrics.jsonl``   one JSON record per finished epoch: ``epoch``, ``lr``,
                    ``train_loss`` (mean MSE on the [0, 1] scale against the
                    noisy targets), ``val_psnr`` (dB), ``epoch_seconds``
                    (training only), ``eval_seconds``, ``cumulative_seconds``
                    (training time of all epochs so far, across resumes).
``loss.png``, ``psnr.png``, ``examples.png``  drawn at the end.

What is on disk stays consistent whenever the run is killed:

- every file is replaced atomically (``Model.save_model``, and ``write_atomic``
  for ``metrics.jsonl``), so none is ever half-written, and checkpoints only
  ever hold finite weights;
- after each epoch the metrics record is written first, then ``checkpoint.pkl``,
  then ``best.pkl``: a checkpoint on disk always has its epoch's record.  A kill
  between two of these writes is repaired by ``--resume``, which drops records
  of epochs the checkpoint does not have (they are trained again), rewrites
  ``best.pkl`` if the checkpoint's epoch was the best one, and deletes the
  temporary files of interrupted writes;
- ``run.json`` and the folder are only created when there is something to
  keep, so a run that fails before its first epoch leaves nothing behind.

Under ``torchrun`` (see ``distributed.py``) every process runs this, and only
the lead process validates, logs and writes the run folder.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from Miniproject_2.others.plumbing.checkpoint import remove_temporaries, write_atomic

from . import plots
from .camera import CameraSettings
from .data import INFO_FILE, TRAIN_CLEAN_FILE, TRAIN_FILE, VAL_FILE, load_clean, load_pairs
from .noise import fresh_pairs, input_psnr, noiseless_note
from .denoise import predict_batches, validation_psnr

CHECKPOINT = "checkpoint.pkl"
BEST = "best.pkl"

# Settings a resumed run must keep; "device" and "precision" may change (they describe the machine), and
# "lr" may be lowered for the epochs to come, the step of a learning-rate schedule.
_FIXED_ON_RESUME = ("batch_size", "seed")

# A validation PSNR this far below the run's best, and below the noisy input's, means
# the model collapsed (typically a learning rate far too high): the run stops.
COLLAPSE_DB = 3.0


class RunError(ValueError):
    """A run cannot start as asked (existing run, nothing to resume, changed settings...)."""


@dataclass
class Outcome:
    status: str  # "finished", "interrupted", "diverged", "collapsed" or "stopped" (a torchrun process failed)
    message: str
    pictures: list[Path] = field(default_factory=list)


def _read_run(out: Path) -> dict:
    path = out / plots.RUN_FILE
    try:
        run = json.loads(path.read_text())
        missing = [key for key in ("impl", "config", "data", "subset") if key not in run]
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"{path}: cannot read the run's settings ({exc})") from exc
    if missing:
        raise RunError(f"{path}: lacks {', '.join(missing)}")
    return run


def _check_resume(run: dict, impl: str, options: dict, subset: int | None) -> None:
    asked = {"impl": impl, "subset": subset, **options}
    kept = {"impl": run["impl"], "subset": run["subset"], **run["config"]}
    for key in ("impl", "subset", *_FIXED_ON_RESUME):
        if asked.get(key) is not None and asked[key] != kept.get(key):
            raise RunError(f"this run was started with {key}={kept.get(key)!r}, not {asked[key]!r}; "
                           "a resumed run keeps its settings (start a new --out to change them)")


def training_pairs(noisy_a: torch.Tensor, noisy_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``Model.train`` takes: unclipped int16 targets (``n2n data --unclipped-targets``) as floats."""
    return noisy_a, (noisy_b.float() if noisy_b.dtype == torch.int16 else noisy_b)


class _Pairs:
    """The training pairs of a data folder: the stored ones (``train_data.pkl``), or, for a
    folder built with ``--fresh-noise`` (``train_clean.pkl``), new ones each epoch."""

    def __init__(self, data_dir: Path, subset: int | None, seed: int, device):
        if (data_dir / TRAIN_CLEAN_FILE).is_file():
            self.clean = load_clean(data_dir / TRAIN_CLEAN_FILE)[:subset]
            try:
                build = json.loads((data_dir / INFO_FILE).read_text())
                self.sigma_range, self.unclipped = build["train_sigma_range"], build["unclipped_targets"]
                self.noise = build.get("train_noise", "gaussian")
                self.camera = CameraSettings.from_json(build.get("camera"))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise RunError(f"{data_dir / INFO_FILE}: cannot read the noise levels of the fresh-noise "
                               f"data ({exc}); rebuild the folder with n2n data --fresh-noise") from exc
            self.seed, self.device = seed, device or "cpu"
            self.fixed = None
            self.count = len(self.clean)
        else:
            train_a, train_b = training_pairs(*load_pairs(data_dir / TRAIN_FILE, "train"))
            self.fixed = (train_a[:subset], train_b[:subset])
            self.count = len(self.fixed[0])

    def describe(self) -> str:
        if self.fixed is not None:
            return f"{self.count} pairs"
        lo, hi = self.sigma_range
        gaussian = self.noise == "gaussian"
        kind = "fresh noise" if gaussian else f"fresh {self.noise} noise"
        camera = "" if gaussian else f"; {self.camera.describe()}"
        return f"{self.count} pictures with {kind} each epoch (sigma {lo:g}-{hi:g}{camera})"

    def epoch(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fixed is not None:
            return self.fixed
        return fresh_pairs(self.clean, self.sigma_range, self.unclipped, self.seed, epoch, self.device, self.noise,
                           self.camera)


def _write_metrics(path: Path, records: list[dict]) -> None:
    write_atomic("".join(json.dumps(record) + "\n" for record in records).encode(), path)


def _reconcile(out: Path, model, model_class, config: dict, records: list[dict], log) -> list[dict]:
    """Repair what a kill between the writes of an epoch left (see the module's docstring)."""
    for path in remove_temporaries(out):
        log(f"removed {path}, left by an interrupted write")
    kept = [r for r in records if r["epoch"] <= model.epochs_trained]
    if len(kept) != len(records):
        log(f"dropped the records of epochs {[r['epoch'] for r in records[len(kept):]]}: their checkpoint "
            "was never written; they are trained again")
        _write_metrics(out / plots.METRICS_FILE, kept)
    if kept and max(kept, key=lambda r: r["val_psnr"])["epoch"] == model.epochs_trained:
        best = model_class(**config)
        try:
            best.load_model(out / BEST)
        except (OSError, ValueError):
            best.epochs_trained = None
        if best.epochs_trained != model.epochs_trained:
            log(f"{out / BEST}: rewritten from epoch {model.epochs_trained}, the best, whose write was interrupted")
            model.save_model(out / BEST)
    return kept


def _kept(checkpoint: Path, model) -> str:
    """What is left on disk after a failed epoch."""
    return (f"{checkpoint} is left as it was ({model.epochs_trained} epochs)"
            if checkpoint.is_file() else "no checkpoint was written")


def _start_from(model, model_class, config: dict, init) -> None:
    """Copy ``init``'s weights into ``model``, in place; its optimizer and epochs stay new."""
    source = model_class(**{**config, "seed": config.get("seed", 0)})
    if init == "committed":
        source.load_pretrained_model()
    else:
        source.load_model(init)
    architecture = ("arch", "channels", "skip", "kernel_down", "padding_down", "kernel_up", "padding_up")
    differs = [key for key in architecture if source.config.get(key) != model.config.get(key)]
    if differs:
        raise RunError(f"--init {init}: its network differs from the run's in {', '.join(differs)}")
    model.net.load_state_dict(source.net.state_dict())


def run_training(model_class_for: Callable[[str], type], impl: str | None, out, data_dir,
                 epochs: int, options: dict, subset: int | None = None, resume: bool = False,
                 log: Callable[[str], None] = print, parallel=None,
                 time_limit: float | None = None, init=None) -> Outcome:
    """Train until the model has ``epochs`` epochs in total, or until the first epoch that
    ends more than ``time_limit`` seconds of training after this call started.

    ``model_class_for`` maps an implementation name ("nograd", "torch") to
    its Model class.  ``options`` are the Model settings given on the command
    line (lr, batch_size, seed, device, precision; None where not given); ``impl``,
    ``data_dir`` and ``subset`` may be None on resume, to keep the run's.
    ``init``, a checkpoint path or "committed" (the model's committed
    checkpoint), gives a new run its starting weights (fine-tuning).
    Raises RunError or ValueError (bad data or checkpoint) before training
    starts; what happens during training is told by the returned Outcome.
    ``parallel`` is this process's ``distributed.DataParallel`` under torchrun:
    processes other than the lead then write nothing and return an empty message.
    """
    out = Path(out)
    lead = parallel is None or parallel.lead
    checkpoint, best_path = out / CHECKPOINT, out / BEST
    metrics_path = out / plots.METRICS_FILE
    if resume and init is not None:
        raise RunError("--init starts a new run; a resumed run keeps its own weights")
    if resume:
        if not (out / plots.RUN_FILE).is_file():
            raise RunError(f"{out}: no checkpoint to resume from (no {plots.RUN_FILE} either)")
        run = _read_run(out)
        _check_resume(run, impl, options, subset)
        # Where and how precisely to compute describe this machine: a resumed run may change them.
        config = {**run["config"], **{key: options[key] for key in ("device", "precision") if options.get(key)}}
        data_dir = Path(data_dir) if data_dir is not None else Path(run["data"])
        impl, subset = run["impl"], run["subset"]
    else:
        if checkpoint.exists() or metrics_path.exists():
            raise RunError(f"{out} already holds a training run; add --resume to continue it, "
                           "or choose another --out")
        config = {key: value for key, value in options.items() if value is not None}
        data_dir = Path(data_dir if data_dir is not None else "data")
        impl = impl or "nograd"
    if parallel is not None and impl != "nograd":
        raise RunError(f"data-parallel training (torchrun) needs the autograd-free model, "
                       f"not --impl {impl}")

    pairs = _Pairs(data_dir, subset, config.get("seed", 0), config.get("device"))
    val_noisy, val_clean = load_pairs(data_dir / VAL_FILE, "val")
    noisy_psnr = input_psnr(val_noisy, val_clean)

    model_class = model_class_for(impl)
    # Miniproject_2 draws its initial weights from torch's global generator.
    torch.manual_seed(config.get("seed", 0))
    model = model_class(**config)
    records = plots.read_metrics(out) if metrics_path.is_file() else []
    if init is not None:
        _start_from(model, model_class, config, init)
        log(f"starting from the weights of {init}")
    if resume:
        # A run killed in its first epoch has no checkpoint yet: it starts again.
        if checkpoint.is_file():
            model.load_model(checkpoint)
        if lead:
            records = _reconcile(out, model, model_class, config, records, log)
        if options.get("lr") is not None and options["lr"] != model.config["lr"]:
            log(f"learning rate {model.config['lr']:g} -> {options['lr']:g} from epoch {model.epochs_trained + 1}")
            model.set_lr(options["lr"])

    def keep_run():
        """Create the run's folder and run.json before the first file that needs them."""
        if not (out / plots.RUN_FILE).is_file():
            out.mkdir(parents=True, exist_ok=True)
            run = {"impl": impl, "config": model.config, "data": str(data_dir.resolve()),
                   "subset": subset, "init": None if init is None else str(init), "n_train": pairs.count, "val_input_psnr": noisy_psnr}
            write_atomic((json.dumps(run, indent=2, default=str) + "\n").encode(), out / plots.RUN_FILE)

    best = max((r["val_psnr"] for r in records), default=-math.inf)
    cumulative = records[-1]["cumulative_seconds"] if records else 0.0
    log(f"training {impl} model ({model.config['precision']}) on {pairs.describe()} from {data_dir}, "
        f"validating on {len(val_noisy)} pictures (noisy input {noisy_psnr:.2f} dB)"
        f"{noiseless_note(val_noisy, val_clean)}")
    if model.epochs_trained >= epochs:
        log(f"the model already has {model.epochs_trained} epochs; raise --epochs to train more")

    # A bar on a terminal, a line every few seconds in a log (nohup, a scheduler's file).
    shown = (True if sys.stderr.isatty() else "lines") if lead else False
    train_options = {"progress": shown} if parallel is None else {"data_parallel": parallel, "progress": shown}
    training_seconds = 0.0
    try:
        while model.epochs_trained < epochs:
            if time_limit is not None and training_seconds >= time_limit:
                log(f"time limit: {training_seconds:.0f} s of training reached after epoch "
                    f"{model.epochs_trained}; continue with --resume")
                break
            train_a, train_b = pairs.epoch(model.epochs_trained + 1)
            started = time.perf_counter()
            (loss,) = model.train(train_a, train_b, 1, **train_options)
            trained = time.perf_counter()
            training_seconds += trained - started
            if not lead:
                continue
            val_psnr = validation_psnr(model, val_noisy, val_clean)
            cumulative += trained - started
            record = {"epoch": model.epochs_trained, "lr": model.config["lr"], "train_loss": loss,
                      "val_psnr": val_psnr,
                      "epoch_seconds": trained - started,
                      "eval_seconds": time.perf_counter() - trained,
                      "cumulative_seconds": cumulative}
            if not math.isfinite(val_psnr):
                raise FloatingPointError(f"the validation PSNR of epoch {record['epoch']} is {val_psnr}")
            keep_run()
            records.append(record)
            _write_metrics(metrics_path, records)
            model.save_model(checkpoint)
            if val_psnr > best:
                best = val_psnr
                model.save_model(best_path)
            log(f"epoch {record['epoch']}/{epochs}: train loss {loss:.5f}, val PSNR {val_psnr:.2f} dB"
                f"{' (best)' if best == val_psnr else ''}, {record['epoch_seconds']:.1f} s")
            # A validation set holding a noiseless picture (a level drawn near 0) has an infinite
            # mean input PSNR: no model is "below" it, so only the drop from the best counts.
            below_input = val_psnr < noisy_psnr if math.isfinite(noisy_psnr) else None
            if below_input:
                log(f"warning: the model makes pictures worse than the noisy input ({val_psnr:.2f} dB "
                    f"< {noisy_psnr:.2f} dB); if this lasts, the learning rate may be too high")
            if val_psnr < best - COLLAPSE_DB and below_input is not False:
                return Outcome("collapsed",
                               f"the model collapsed: validation PSNR fell to {val_psnr:.2f} dB in epoch "
                               f"{record['epoch']}, from {best:.2f} dB"
                               + (f" and below the noisy input's {noisy_psnr:.2f} dB" if below_input else "")
                               + f"; {best_path} keeps the best epoch. Start a new run with a smaller --lr")
    except KeyboardInterrupt:
        # Only evaluated epochs are kept: the checkpoint of the last one is already on
        # disk, and --resume trains the interrupted epoch again, exactly as it would have.
        if not checkpoint.is_file():
            return Outcome("interrupted", "interrupted in epoch 1; no epoch had finished, so nothing "
                                          "was saved: start again with the same command")
        return Outcome("interrupted",
                       f"interrupted in epoch {len(records) + 1}; {checkpoint} keeps the model after "
                       f"epoch {len(records)}: continue with "
                       f"`n2n train --out {out} --resume --epochs {epochs}`")
    except FloatingPointError as exc:
        return Outcome("diverged", f"training diverged: {exc}; {_kept(checkpoint, model)}. "
                       "Start a new run with a smaller --lr")
    except ConnectionError as exc:  # another process of a torchrun group failed
        return Outcome("stopped", f"{exc}; {_kept(checkpoint, model)}: continue with the same "
                       f"torchrun command and `--out {out} --resume --epochs {epochs}`")

    if not lead:
        return Outcome("finished", "")
    pictures = plots.redraw(out) if records else []
    indices = plots.example_indices(len(val_noisy))
    examples = out / plots.EXAMPLES_PNG
    plots.draw_examples(val_noisy[indices], predict_batches(model, val_noisy[indices]),
                        val_clean[indices], examples,
                        title=f"{impl} model after {model.epochs_trained} epochs")
    pictures.append(examples)
    final = records[-1]["val_psnr"] if records else validation_psnr(model, val_noisy, val_clean)
    return Outcome("finished", f"final validation PSNR {final:.2f} dB "
                   f"(noisy input {noisy_psnr:.2f} dB, best {max(best, final):.2f} dB)",
                   pictures=pictures)
