"""Build Proj_SCIPER/Miniproject_2/Report_2.pdf from the result files the other commands write.

    python report/build_report.py [--results results] [--data data] [--checkpoint PATH] [--out PATH]

Every number in the report is formatted from an input, never typed here:

- ``results/speed.json``            python benchmarks/speed.py --epoch
- ``results/ablation.json``         python benchmarks/ablation.py
- ``results/quality.json``          python benchmarks/quality.py, which also copies the training
  runs it scores (``metrics.jsonl``, ``run.json``, the data set's ``build.json`` as
  ``data_build.json``) to ``results/<run>/``, and holds the per-noise-level tables
- ``data/val_data.pkl``, ``data/build.json``   n2n data
- ``Proj_SCIPER/Miniproject_2/bestmodel.pkl``  the committed model, which denoises the
  example pictures while the report is built;
- ``results/real_noise/polyu_camera.json``, ``results/real_noise/polyu_baselines.json``,
  ``results/real_noise/polyu_camera_strength.json``, ``results/real_noise/polyu_auto.json``,
  ``results/real_noise/polyu_bm3d_all.json`` and ``results/real_noise.png``   the real-noise commands
  of docs/real-noise.md (n2n evaluate --real, report/real_noise_figure.py): the table per camera,
  the gain at a higher strength and at the command line's default, BM3D on every picture and the
  figure of a real PolyU crop;
- ``photos/unseen`` (``n2n photos``)  a photograph the committed models (required and deep),
  non-local means and BM3D denoise at two noise levels for a figure, also written alone to
  ``results/real_photo.png`` for the README.

A missing input leaves its table or figure out and puts a visible note in its place; the
inputs that were missing are also listed on stderr.
"""
import argparse
import importlib.util
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402
from typeset import PAGE, Document  # noqa: E402
from Miniproject_2.model import CHECKPOINTS, Model  # noqa: E402
from Miniproject_2.others.denoisers.strength import CAMERA_STRENGTH  # noqa: E402
from n2n_nograd.baselines import BASELINES, BM3D_LABEL, bm3d, bm3d_missing  # noqa: E402
from n2n_nograd.data import INFO_FILE, VAL_FILE, load_pairs  # noqa: E402
from n2n_nograd.denoise import GRADER_BATCH, predict_batches, read_picture  # noqa: E402
from n2n_nograd.evaluation import noisy_copy  # noqa: E402
from n2n_nograd.plots import METRICS_FILE, RUN_FILE, example_indices, read_metrics  # noqa: E402
from n2n_nograd.psnr import psnr_per_image  # noqa: E402

OUT = ROOT / "Proj_SCIPER" / "Miniproject_2" / "Report_2.pdf"
TITLE = "Noise2Noise without autograd"
#: A photograph of the unseen source (`n2n photos`), shrunk 4x by area averaging, and the
#: crop of it shown at several noise levels: dandelion seeds' fine hairs on a smooth background.
REAL_PHOTO = ROOT / "photos" / "unseen" / "mate-backgrounds" / "TwoWings.jpg"
REAL_CROP = (110, 300, 160)  # top, left, side in pixels of the shrunk photograph
REAL_SIGMAS = (5, 25)
#: The same figure as a picture of its own, in the results folder, for the README.
REAL_PHOTO_PNG = "real_photo.png"
#: The real-noise figure (report/real_noise_figure.py), in the results folder.
REAL_NOISE_FIGURE = "real_noise.png"
#: Labels of the real-noise runs' denoisers (n2n evaluate --real's JSON).
REAL_DEEP, REAL_CAMERA = "nograd committed deep", "nograd committed camera"
#: ``n2n denoise``'s default on PolyU: the auto route at strength auto.
REAL_AUTO = "nograd committed auto strength auto"
REAL_BM3D = "BM3D (best fixed sigma, other half)"
#: The strength above 1 that the report quotes on real noise (docs/real-noise.md: what suits a real photo).
REAL_STRENGTH = 2
#: benchmarks/quality.py's run folder for the committed model's training run, and the deep one's.
COMMITTED_RUN = "best"
DEEP_RUN = "deep"
EXAMPLES = 10  # validation pictures in the grid


# -- inputs ----------------------------------------------------------------------------------

class Inputs:
    """What the builder found; ``missing`` collects a line per absent input."""

    def __init__(self, results, data, checkpoint):
        self.missing = []
        self.results, self.data = Path(results), Path(data)
        self.speed = self._json(self.results / "speed.json", "python benchmarks/speed.py --epoch")
        self.ablation = self._json(self.results / "ablation.json", "python benchmarks/ablation.py")
        self.quality = self._json(self.results / "quality.json", "python benchmarks/quality.py")
        self.deep_ablation = self._json(self.results / "deep_ablation.json",
                                        "python benchmarks/deep_ablation.py --device cuda --jobs 8")
        self.ablation_planned = 1 + sum(len(changes) for changes in benchmark("ablation").VARIANTS.values())
        finished = len((self.ablation or {}).get("runs", {}))
        if self.ablation is not None and finished < self.ablation_planned:
            self.missing.append(f"{self.results / 'ablation.json'}: {finished} of {self.ablation_planned} runs "
                                f"finished (partial)")
        self.real_camera = self._json(self.results / "real_noise" / "polyu_camera.json",
                                      "n2n evaluate --real DIR --model camera --json ...")
        self.real_baselines = self._json(self.results / "real_noise" / "polyu_baselines.json",
                                         "n2n evaluate --real DIR --model deep --bm3d 10 --baselines --json ...")
        self.real_strength = self._json(self.results / "real_noise" / "polyu_camera_strength.json",
                                        f"n2n evaluate --real DIR --model camera --strength {REAL_STRENGTH} --json ...")
        self.real_auto = self._json(self.results / "real_noise" / "polyu_auto.json",
                                    "n2n evaluate --real DIR --model auto --strength auto --json ...")
        self.real_bm3d_all = self._json(self.results / "real_noise" / "polyu_bm3d_all.json",
                                        "n2n evaluate --real DIR --model camera --bm3d 100 --bm3d-levels 18 --json ...")
        self.real_figure = self.results / REAL_NOISE_FIGURE
        if not self.real_figure.is_file():
            self.missing.append(f"{self.real_figure} (written by `python report/real_noise_figure.py`)")
        self.build = self._json(self.data / INFO_FILE, "n2n data")
        #: Training runs of the quality table's trained rows, by run folder: name, records, run.json.
        self.runs = {}
        for row in (self.quality or {"rows": []})["rows"]:
            if "run" not in row:
                continue
            path = self.results / row["run"]
            records = read_metrics(path) if (path / METRICS_FILE).is_file() else []
            if records:
                build = path / "data_build.json"
                self.runs[row["run"]] = {"name": row["name"], "records": records,
                                         "run": json.loads((path / RUN_FILE).read_text()),
                                         "data": json.loads(build.read_text()) if build.is_file() else None}
            else:
                self.missing.append(f"{path / METRICS_FILE} (copied there by `python benchmarks/quality.py`)")
        self.val = None
        if (self.data / VAL_FILE).is_file():
            self.val = load_pairs(self.data / VAL_FILE, "val")
        else:
            self.missing.append(f"{self.data / VAL_FILE} (written by `n2n data`)")
        torch.manual_seed(0)
        self.model = Model()
        self.checkpoint = Path(checkpoint)
        self.trained = self.checkpoint.is_file()
        if self.trained:
            self.model.load_model(self.checkpoint)
        else:
            self.missing.append(f"{self.checkpoint} (the committed model; pictures use an untrained one)")

    def _json(self, path, command):
        if path.is_file():
            return json.loads(path.read_text())
        self.missing.append(f"{path} (written by `{command}`)")
        return None


def missing_note(doc, what, command):
    doc.note(f"Missing when this report was built: {what}. Run `{command}`, then rebuild the report "
             f"with `python report/build_report.py`.")


# -- formatting ------------------------------------------------------------------------------

def seconds(value):
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 60:
        return f"{value:.2f} s"
    if value < 5400:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def signed(value):
    """A difference in dB with its sign, a true minus sign for negative values."""
    return f"{value:+.2f}".replace("-", "\u2212")


def count(value):
    return f"{value:,}".replace(",", "\u2009")  # thin-space thousands


def change_label(change):
    """An ablation variant's change from the base, in words."""
    parts = []
    if "channels" in change:
        parts.append("channels " + "/".join(str(c) for c in change["channels"]))
    if "kernel_down" in change:
        parts.append(f"down {change['kernel_down']}×{change['kernel_down']} pad {change.get('padding_down', 0)}")
    if "kernel_up" in change:
        parts.append(f"up {change['kernel_up']}×{change['kernel_up']} pad {change.get('padding_up', 0)}")
    if "optimizer" in change:
        parts.append(change["optimizer"].upper() if change["optimizer"] == "sgd" else "Adam")
    if "lr" in change:
        parts.append(f"lr {change['lr']:g}")
    if "momentum" in change:
        parts.append(f"momentum {change['momentum']:g}")
    if "batch_size" in change:
        parts.append(f"batch {change['batch_size']}")
    known = {"channels", "kernel_down", "padding_down", "kernel_up", "padding_up", "optimizer", "lr",
             "momentum", "batch_size"}
    parts += [f"{key} {value}" for key, value in change.items() if key not in known]
    return ", ".join(parts)


def config_label(config):
    optimizer = "Adam" if config["optimizer"] == "adam" else "SGD"
    if config["optimizer"] == "sgd" and config.get("momentum"):
        optimizer += f" momentum {config['momentum']:g},"
    widths = "/".join(map(str, config["channels"]))
    network = (f"U-Net {widths}, {config.get('skip', 'concat')} skips" if config.get("arch") == "deep" else
               f"channels {widths}, down {config['kernel_down']}×{config['kernel_down']}, "
               f"up {config['kernel_up']}×{config['kernel_up']}")
    return f"{network}, {optimizer} lr {config['lr']:g}, batch {config['batch_size']}"


# -- computed material -------------------------------------------------------------------------

def layer_label(layer):
    """A layer in words, from its attributes."""
    name = type(layer).__name__
    if not hasattr(layer, "kernel_size"):
        return name
    (kh, kw), (ph, pw) = layer.kernel_size, layer.padding
    text = f"{name} {layer.in_channels}→{layer.out_channels}, {kh}×{kw}"
    if hasattr(layer, "scale_factor"):
        text += f", ×{layer.scale_factor[0]} nearest"
    if layer.stride != (1, 1):
        text += f", stride {layer.stride[0]}"
    return text + (f", padding {ph}" if (ph, pw) != (0, 0) else "")


def network_rows(model):
    """(layer, output shape for one 32×32 picture, parameters) of the model's network; an
    activation shares the row of the layer before it."""
    x = torch.zeros(1, 3, 32, 32)
    rows = []
    for layer in model.net:
        x = layer.forward(x)
        params = sum(tensor.numel() for tensor, _ in layer.param())
        shape = "×".join(str(s) for s in x.shape[1:])
        if params == 0 and rows:
            rows[-1] = (f"{rows[-1][0]}, then {layer_label(layer)}", shape, rows[-1][2])
        else:
            rows.append((layer_label(layer), shape, count(params)))
    total = sum(tensor.numel() for tensor, _ in model.net.param())
    return rows, total


def denoised_examples(inputs):
    noisy, clean = inputs.val
    index = example_indices(len(clean), EXAMPLES)
    noisy, clean = noisy[index], clean[index]
    denoised = predict_batches(inputs.model, noisy)
    scores = [psnr_per_image(noisy.float() / 255, clean.float() / 255).tolist(),
              psnr_per_image(denoised / 255, clean.float() / 255).tolist()]
    return noisy, denoised, clean, scores


def real_photo_rows():
    """The figure's rows: the crop of :data:`REAL_PHOTO` at each of :data:`REAL_SIGMAS`,
    noisy, denoised by each committed model and by the classical methods, and clean."""
    top, left, side = REAL_CROP
    photo = read_picture(REAL_PHOTO).float()
    shrunk = photo[:, :, :photo.shape[2] // 4 * 4, :photo.shape[3] // 4 * 4]
    shrunk = shrunk.unflatten(2, (-1, 4)).unflatten(4, (-1, 4)).mean((3, 5)).round().byte()
    clean = shrunk[:, :, top:top + side, left:left + side].contiguous()
    torch.manual_seed(0)
    required, deep = Model(), Model(arch="deep")
    required.load_model(CHECKPOINTS["simple"])
    deep.load_model(CHECKPOINTS["deep"])
    denoisers = [("required", lambda noisy, sigma: required.predict(noisy)),
                 ("deep", lambda noisy, sigma: deep.predict(noisy)),
                 ("NL-means", lambda noisy, sigma: BASELINES["nl_means"][1](noisy))]
    if not bm3d_missing():
        denoisers.append(("BM3D", bm3d))
    rows = []
    for sigma in REAL_SIGMAS:
        noisy = noisy_copy(clean, sigma)
        cells = [(f"noisy {psnr_per_image(noisy.float() / 255, clean.float() / 255).item():.1f} dB", noisy[0])]
        for name, denoise in denoisers:
            out = denoise(noisy, sigma).float()
            cells.append((f"{name} {psnr_per_image(out / 255, clean.float() / 255).item():.1f} dB", out[0]))
        rows.append((f"σ = {sigma}", cells + [("clean", clean[0])]))
    return rows


def quality_findings(inputs):
    """Sentences comparing the committed model with its twin and the classical baseline."""
    rows = inputs.quality["rows"]
    ours = next((r for r in rows if r.get("run") == COMMITTED_RUN), None)
    if ours is None:
        return ""
    sentences = []
    twin = next((r for r in rows if r.get("impl") == "torch"), None)
    if twin:
        text = (f"The torch.nn twin trained with the same recipe scores {twin['psnr']:.2f} dB "
                f"({signed(twin['psnr'] - ours['psnr'])} dB against ours)")
        if twin["run"] in inputs.runs and COMMITTED_RUN in inputs.runs:
            def per_epoch(run):
                records = inputs.runs[run]["records"]
                return sum(r["epoch_seconds"] for r in records) / len(records)
            text += f", with epochs {per_epoch(twin['run']) / per_epoch(COMMITTED_RUN):.2f}× as long as ours"
        sentences.append(text + ".")
    baseline = next((r for r in rows if r["name"] == BASELINES["nl_means"][0]), None)
    if baseline:
        gap = baseline["psnr"] - ours["psnr"]
        text = f"Non-local means is {abs(gap):.2f} dB {'above' if gap > 0 else 'below'} ours"
        if "predict_seconds" in baseline:
            text += (f" and takes {baseline['predict_seconds'] / ours['predict_seconds']:.0f}× its time to denoise "
                     f"the validation set")
        sentences.append(text + ".")
    return " ".join(sentences)


def ablation_bars(ablation):
    """(label, factor, final PSNR, total seconds) per run, base first, then by factor."""
    return [("base" if run["factor"] == "base" else change_label(run["change"]),
             run["factor"], run["history"][-1]["val_psnr"], sum(h["seconds"] for h in run["history"]))
            for run in ordered_runs(ablation)]


def ordered_runs(ablation):
    """The ablation's runs, the base first, then grouped by factor in order of appearance."""
    runs = ablation["runs"].values()
    factors = ["base"] + [f for f in dict.fromkeys(r["factor"] for r in runs) if f != "base"]
    return [r for factor in factors for r in runs if r["factor"] == factor]


# -- sections ----------------------------------------------------------------------------------

def summary(doc, inputs):
    sentences = ["This report describes a small deep-learning framework written on raw torch tensors with "
                 "every gradient derived and coded by hand (no autograd, no torch.nn), how its gradients are "
                 "verified, and the Noise2Noise denoiser trained with it: it learns to remove noise from "
                 "pairs of independently noisy pictures, never seeing a clean one."]
    rows = (inputs.quality or {"rows": []})["rows"]
    ours = next((r for r in rows if r.get("run") == COMMITTED_RUN), None)
    if ours:
        sentence = (f"The committed model reaches **{ours['psnr']:.2f} dB** validation PSNR "
                    f"({signed(ours['gain_db'])} dB over the noisy input's {inputs.quality['noisy_psnr']:.2f} dB) "
                    f"after {ours['epochs']} epochs and {seconds(ours['train_seconds'])} of CPU training")
        label = BASELINES["nl_means"][0]
        baseline = next((r for r in rows if r["name"] == label), None)
        sentence += f"; non-local means reaches {baseline['psnr']:.2f} dB." if baseline else "."
        sentences.append(sentence)
    unseen = ((inputs.quality or {}).get("sigmas") or {}).get("unseen")
    if unseen:
        names = {model: name for name, impl, model in benchmark("quality").SWEPT if impl == "nograd"}
        at = {r["denoiser"]: r for r in unseen["rows"] if r["sigma"] == 25}
        deep, nl_means, bm3d = at.get(names["deep"]), at.get(BASELINES["nl_means"][0]), at.get(BM3D_LABEL)
        if deep and nl_means:
            sentence = (f"The deep model, a U-Net built from the same framework and trained blind on noise levels "
                        f"0–50, reaches **{deep['psnr']:.2f} dB** at σ = 25 on photographs of a source it never saw "
                        f"(non-local means {nl_means['psnr']:.2f} dB")
            if bm3d and "paired" in bm3d:
                sentence += (f"; BM3D {bm3d['psnr']:.2f} dB against its {bm3d['paired'][names['deep']]['psnr']:.2f} "
                             f"dB on the pictures BM3D ran on")
            sentences.append(sentence + ").")
    if inputs.speed:
        train = [r for r in inputs.speed["rows"] if r["network"] == "default" and r["task"].startswith("train")]
        if train:
            ratios = sorted({f"{r['ratio']:.2f}" for r in train}, key=float)
            span = ratios[0] if len(ratios) == 1 else f"{ratios[0]}–{ratios[-1]}"
            sentences.append(f"A training step of the same network takes **{span}×** the time of torch.nn with "
                             f"autograd on the same CPU.")
    doc.paragraph(" ".join(sentences), after=0.1)


def framework(doc, inputs):
    doc.heading("1  The framework")
    doc.paragraph(
        "**Module contract.** Every layer, loss and container is a `Module`: `forward(x)` keeps what its "
        "gradient will need; `backward(g)` returns the gradient with respect to the input and adds the "
        "parameters' gradients to their buffers, so they accumulate until `zero_grad()`, as in torch. "
        "`param()` returns the live (tensor, gradient) pairs, which the optimizers (`SGD`, `Adam`) and "
        "`load_state_dict` update in place; rebinding a parameter raises an error, so a reference never goes "
        "stale. `Sequential`'s `state_dict` keys are torch's, so weights move both ways between this framework "
        "and the torch.nn twin of Miniproject 1.")
    doc.paragraph(
        "**Convolution as one matrix product.** For an input stored as (N, H, W, C) and zero-padded, one "
        "`as_strided` view exposes every kh×kw window; copying it is im2col, a matrix X with N·oh·ow rows "
        "and kh·kw·C columns. With the weight as a (kh·kw·C)×C_out matrix W, the forward pass is Y = XW + b; "
        "for the upstream gradient G, the backward pass is ∂L/∂W = XᵀG, ∂L/∂b = the column sums of G, and "
        "∂L/∂X = col2im(GWᵀ), where col2im, the adjoint of im2col, adds each row back onto the pixels its "
        "window read (one strided addition per kernel tap). Speed comes from five choices:")
    doc.bullets([
        "**Channels-last activations behind NCHW views.** Layers exchange logical (N, C, H, W) tensors that "
        "are permuted views of contiguous (N, H, W, C) memory, so the product XW already is the next "
        "layer's activation: no layout copy sits between layers.",
        "**Stride-2 2×2 convolutions** (the encoder): the windows tile the input exactly, so im2col is a "
        "pure `as_strided` copy with no padding buffer, and col2im a single strided copy instead of a sum.",
        "**Upsampling fused with its convolution.** Nearest ×s upsampling then a k×k convolution is "
        "computed from the low-resolution input: each of the s² output phases is a convolution whose taps "
        "are sums of kernel taps (a 3×3 kernel becomes four 2×2 ones at s = 2). The phases share one im2col "
        "and run as one matrix product whose columns are interleaved into place, so the upsampled image is "
        "never built.",
        "**Either product order.** A stride-1 pass may multiply first and sum the windows by col2im; it "
        "takes the order that materialises fewer numbers, in reused scratch memory.",
        "**Bit-exact NCHW Conv2d.** A contiguous NCHW input (the grader's check) goes through `unfold` and a "
        "batched product that starts its accumulation from the bias, as torch's im2col reference "
        "convolution does, so the output equals `F.conv2d` bit for bit wherever torch takes that path (products "
        "too small for BLAS excepted: they differ by float32 rounding).",
    ])
    rows, total = network_rows(inputs.model)
    doc.table(["layer", "output (C×H×W)", "parameters"], rows + [("total", "", count(total))],
              "The denoiser, as built by the framework (the course's required shape), with the output of each "
              "layer for one 32×32 picture. `Upsampling` is nearest ×2 upsampling fused with a convolution.",
              align=["l", "l", "r"], groups=(len(rows),))


VERIFICATION = [
    ("every layer: output, input gradient, each parameter gradient",
     "a torch.nn.functional twin differentiated by torch.autograd, float64",
     "Conv2d, TransposeConv2d, Upsampling, NearestUpsampling, ReLU, Sigmoid, MSE. Hypothesis draws batch, "
     "channels, odd and even sizes, kernel, stride, padding, dilation, output padding, integer and fractional "
     "scales, bias or none; input and upstream gradient each in one of four memory layouts (contiguous, "
     "channels-last, transposed, strided slice with NaN in the gaps)"),
    ("random chains, nested Sequential", "torch.nn.Sequential of the twins", "as above"),
    ("edge cases", "the autograd twin",
     "1×1 pictures, kernel as large as the input, odd sizes, ReLU at exactly 0, Sigmoid at ±1000 (no NaN)"),
    ("without autograd", "torch.autograd.gradcheck (finite differences) through an autograd.Function adapter",
     "every layer and a small network"),
    ("accumulation", "itself", "a second backward doubles the parameter gradients but not the input gradient; "
     "two batches add up; zero_grad clears"),
    ("SGD and Adam, all options", "torch.optim", "ten steps; in-place updates; state saved and restored"),
    ("the whole denoiser", "Miniproject 1 (torch.nn), same weights", "predictions"),
    ("the grader's three checks", "F.conv2d and torch.sigmoid, with allclose",
     "Conv2d bit-identical on every one of hundreds of seeds, the other two allclose; random convolution "
     "shapes bit-identical to torch's im2col reference where the product runs in BLAS, within float32 "
     "rounding elsewhere"),
    ("the course's rule", "static import scan; TorchFunctionMode trace of training and prediction",
     "only torch.empty, cat, arange, fold, unfold and tensor methods are called (and torch.load/save for "
     "checkpoints)"),
]


def verification(doc):
    doc.heading("2  Verifying hand-written gradients")
    doc.paragraph(
        "No gradient is trusted on its own derivation. Each layer has a twin written with "
        "`torch.nn.functional` and differentiated by `torch.autograd`, loaded with the same weights; output, "
        "input gradient and each parameter gradient must agree in float64 to a relative tolerance of "
        "10⁻¹⁰ for a random upstream gradient (so no term can hide behind a cancellation). Table 2 lists "
        "what the fast test suite (`pytest`) covers on every change.")
    doc.table(["what", "compared with", "over"], VERIFICATION,
              "Verification of the framework (tests/test_layers.py, test_exactness.py, test_optim.py, "
              "test_miniproject1.py, test_compliance.py).",
              align=["l", "l", "l"], max_width=[1.45, 1.95, 3.25])


def benchmark(name):
    """The module benchmarks/<name>.py, for what it measures (its networks, its variants)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def architecture_label(name, arch):
    c1, c2 = arch["channels"]
    return (f"{name}: {c1}/{c2} channels, {arch['kernel_down']}×{arch['kernel_down']} down, "
            f"{arch['kernel_up']}×{arch['kernel_up']} up")


def speed(doc, inputs):
    doc.heading("3  Speed against torch.nn with autograd")
    if inputs.speed is None:
        missing_note(doc, "results/speed.json", "python benchmarks/speed.py --epoch")
        return
    result = inputs.speed
    networks = list(dict.fromkeys(r["network"] for r in result["rows"]))
    tasks = list(dict.fromkeys(r["task"] for r in result["rows"]))
    measured = {(r["network"], r["task"]): r for r in result["rows"]}
    rows = []
    for task in tasks:
        row = [task]
        for network in networks:
            r = measured.get((network, task))
            if r is None:
                row += [""] * 4
                continue
            memory = f"{r['ours_peak_mib']:.0f} / {r['torch_peak_mib']:.0f}" if "ours_peak_mib" in r else ""
            row += [seconds(r["ours_s"]), seconds(r["torch_s"]), f"**{r['ratio']:.2f}**", memory]
        rows.append(row)
    agreement = max(r["max_abs_diff_0_255"] for r in result["rows"])
    epoch = (f" One epoch of `Model.train` with the default (32/64) network, on random pairs as many and as large as "
             f"the course's training set, takes {seconds(result['epoch_50k_s'])}." if "epoch_50k_s" in result else "")
    doc.paragraph(
        f"`benchmarks/speed.py` gives both implementations identical weights (their predictions agree to "
        f"{agreement:.1e} on the 0–255 scale) and times them alternately in one process after a warm-up, "
        f"reporting medians over rounds; torch {result['torch']}, {result['threads']} threads. A training "
        f"step is uint8 batch → forward → backward → SGD update; prediction is each `Model.predict`. Peak "
        f"memory is the peak resident-set growth over three steps, one fresh process each.{epoch}")
    doc.table(["task"] + ["ours", "torch.nn", "ratio", "peak MiB"] * len(networks), rows,
              "Median time per call (lower is better) and the ratio ours / torch.nn: below 1, the autograd-free "
              "framework is faster. Peak MiB: ours / torch.nn. Networks: "
              + "; ".join(architecture_label(name, arch) for name, arch in benchmark("speed").NETWORKS.items()
                          if name in networks) + " (seed: the network of the report this project started from).",
              align=["l"] + ["r"] * (4 * len(networks)), spans=[("", 1)] + [(f"{n} network", 4) for n in networks])


def quality(doc, inputs):
    doc.heading("4  Denoising quality")
    ours = inputs.runs.get(COMMITTED_RUN)
    if inputs.build:
        b = inputs.build
        doc.paragraph(
            f"**Data.** `n2n data` builds a set in the course's format from the colour photographs bundled with "
            f"scikit-image (training and validation photographs apart): {count(b['n_train'])} training pairs and "
            f"{count(b['n_val'])} validation pictures of {b['size']}×{b['size']}, Gaussian noise of "
            f"σ = {b['sigma']:.1f} grey levels so that the noisy validation input scores "
            f"{b['val_input_psnr']:.2f} dB, as the course's. PSNR is the grader's: the mean over pictures.")
    else:
        missing_note(doc, "data/build.json", "n2n data")
    if ours:
        doc.paragraph(f"**Training.** The committed model: {config_label(ours['run']['config'])}; MSE against the "
                      f"second noisy picture, a random flip/rotation per batch, best validation epoch kept (every "
                      f"run: appendix).{schedule_label(ours)}{training_data_label(ours['data'])}")
    if inputs.quality is None:
        missing_note(doc, "results/quality.json and the training runs it copies", "python benchmarks/quality.py")
    else:
        q = inputs.quality
        rows = []
        for r in q["rows"]:
            trained = "run" in r
            rows.append((r["name"], f"**{r['psnr']:.2f}**", signed(r["gain_db"]),
                         count(r["params"]) if trained else "", str(r["epochs"]) if trained else "",
                         seconds(r["train_seconds"]) if trained else "",
                         seconds(r["predict_seconds"]) if "predict_seconds" in r else ""))
        doc.table(["method", "PSNR (dB)", "gain (dB)", "parameters", "best epoch", "training", "denoising"],
                  rows, f"Validation PSNR on the {count(q['n_val'])} validation pictures (higher is better) and "
                  f"gain over the noisy input. Training: time up to the best epoch; denoising: all validation "
                  f"pictures, in batches of {GRADER_BATCH} as the grader does.",
                  align=["l", "r", "r", "r", "r", "r", "r"], max_width=[2.4] + [None] * 6, label="quality")
        if inputs.runs:
            doc.figure(1.75, figures.curves({run["name"]: run["records"] for run in inputs.runs.values()},
                                           q["noisy_psnr"]),
                       f"Training curves of the trained rows of Table {doc.labels['quality']}: mean training loss "
                       f"per epoch (MSE against the second noisy picture, [0, 1] scale), validation PSNR after each "
                       f"epoch, and the same against cumulative training time (evaluation excluded).")
        findings = quality_findings(inputs)
        if findings:
            doc.paragraph(findings)
    deep = inputs.runs.get(DEEP_RUN)
    if deep:
        doc.paragraph(deep_label(inputs, deep))
    if inputs.quality is not None and inputs.quality.get("sigmas"):
        noise_levels(doc, inputs.quality["sigmas"], "unseen")
    if REAL_PHOTO.is_file():
        draw = figures.noise_levels_photo(real_photo_rows())
        figures.save_alone(draw, (PAGE[0] - 1.4, 2.45), inputs.results / REAL_PHOTO_PNG)
        doc.figure(2.45, draw,
                   f"A {REAL_CROP[2]}×{REAL_CROP[2]} crop of a photograph of the unseen source "
                   f"('{REAL_PHOTO.name}', shrunk 4×) with noise of σ = {' and '.join(map(str, REAL_SIGMAS))}, "
                   f"denoised by the required network, the deep one, non-local means and BM3D (told σ); "
                   f"titles: PSNR of the crop.")
    else:
        missing_note(doc, str(REAL_PHOTO), "n2n photos")


def _mean_gain(run, names):
    """The mean gain over the noisy input of the pictures ``names``, from a run of ``n2n evaluate
    --real``'s JSON."""
    rows = run["rows"]
    gains = dict(zip(run["pictures"], (out - noisy for out, noisy in zip(rows["psnr"], rows["input_psnr"]))))
    return sum(gains[name] for name in names) / len(names)


def _stronger(inputs, names):
    """The sentence on the camera model at :data:`REAL_STRENGTH` (empty without its run)."""
    run = (inputs.real_strength or {}).get("denoisers", {}).get(f"{REAL_CAMERA} strength {REAL_STRENGTH:g}")
    if run is None:
        return ""
    return (f" Asked to smooth more (strength {REAL_STRENGTH:g}: the weak coefficients of the result's local cosine "
            f"transform shrunk, then that picture the pilot of BM3D's second stage, a collaborative Wiener filter of "
            f"the noisy picture over stacks of similar blocks, written in the framework's operations) it gains "
            f"{signed(run['overall']['gain'])} dB, {signed(_mean_gain(run, names))} on BM3D's pictures.")


def _default(inputs):
    """The sentence on ``n2n denoise``'s default, strength auto (empty without its run)."""
    run = (inputs.real_auto or {}).get("denoisers", {}).get(REAL_AUTO)
    if run is None:
        return ""
    overall = run["overall"]
    return (f" The command line's default (strength auto: {CAMERA_STRENGTH:g} for a picture whose noise looks like "
            f"a camera's, light and correlated between neighbouring pixels, its colour smoothed harder where it "
            f"lacks fine grain as a camera JPEG's does; 1 for the others) gains "
            f"{signed(overall['gain'])} dB, {100 * overall['worse']:.0f}% of the pictures made worse.")


def _bm3d_everywhere(inputs):
    """The sentence on BM3D at one level on every picture (empty without its run)."""
    runs = (inputs.real_bm3d_all or {}).get("denoisers", {})
    run = next((entry for label, entry in runs.items() if label.startswith("BM3D")), None)
    if run is None:
        return ""
    level = next(iter(inputs.real_bm3d_all["bm3d_levels"].values()))
    return (f" At that level (σ {level:g}) on all {run['overall']['n']} pictures BM3D gains "
            f"{signed(run['overall']['gain'])} dB.")


def real_noise(doc, inputs):
    """The camera model on real camera noise: per camera, and a real crop."""
    doc.heading("Real camera noise", size=11)
    if inputs.real_camera is None or inputs.real_baselines is None:
        missing_note(doc, "results/real_noise/*.json", "n2n evaluate --real (docs/real-noise.md)")
        return
    camera = inputs.real_camera["denoisers"][REAL_CAMERA]
    deep = inputs.real_baselines["denoisers"][REAL_DEEP]
    nl_means = inputs.real_baselines["denoisers"][BASELINES["nl_means"][0]]
    bm3d_run = inputs.real_baselines["denoisers"][REAL_BM3D]
    on_bm3d = bm3d_run["pictures"]
    overall = camera["overall"]
    doc.paragraph(
        f"On real high-ISO photographs (PolyU: {overall['n']} crops of 512×512 from five cameras, the ground "
        f"truth the mean of many shots; evaluation only) the deep model, which learnt white noise, gains "
        f"{signed(deep['overall']['gain'])} dB. The camera model is the deep model fine-tuned on pairs drawn "
        f"through a camera's pipeline from the training photos (un-processing to raw, shot and read noise on a "
        f"Bayer mosaic, demosaicing, colour, the transfer curve, the camera's noise reduction, JPEG), mixed with "
        f"white noise, in steps each averaged with its start (WiSE-FT), the last on lighter noise from pictures "
        f"softened as a camera's full-resolution pictures are: it gains "
        f"**{signed(overall['gain'])} dB** (Table {doc.tables + 1}). BM3D told the best "
        f"fixed level (chosen on the other half) gains {signed(bm3d_run['overall']['gain'])} dB on the "
        f"{bm3d_run['overall']['n']} pictures it ran on, where the camera model gains "
        f"{signed(_mean_gain(camera, on_bm3d))} dB: real noise is not solved yet." + _stronger(inputs, on_bm3d)
        + _default(inputs) + _bm3d_everywhere(inputs))
    rows = []
    for name, numbers in [("all", overall), *camera["per_camera"].items()]:
        other = deep["overall"] if name == "all" else deep["per_camera"][name]
        classical = nl_means["overall"] if name == "all" else nl_means["per_camera"][name]
        rows.append((name, str(numbers["n"]), f"{numbers['input_psnr']:.2f}", signed(other["gain"]),
                     f"**{signed(numbers['gain'])}**", f"{100 * numbers['worse']:.0f}%",
                     signed(numbers["worst_gain"]), f"{numbers['colour_shift']:.2f}", signed(classical["gain"])))
    doc.table(["camera", "n", "input dB", "deep", "camera model", "worse", "worst", "colour", "NL-means"], rows,
              "PolyU, whole pictures: gain over the noisy input (dB); worse: pictures made worse by the camera "
              "model; worst: its lowest gain; colour: its mean channel-mean shift (0–255 levels).",
              groups=(1,))
    if inputs.real_figure.is_file():
        from matplotlib.image import imread
        picture = imread(inputs.real_figure)

        def draw(fig, box):
            x, y, w, h = box
            width = min(w, h * picture.shape[1] / picture.shape[0])
            ax = fig.add_axes(((x + (w - width) / 2) / PAGE[0], y / PAGE[1], width / PAGE[0], h / PAGE[1]))
            ax.imshow(picture, interpolation="antialiased")
            ax.axis("off")
        doc.figure(1.6, draw, "A real PolyU crop (Canon 80D, ISO 12800): noisy, the deep model, the camera model "
                              f"(at strength 1, auto and {REAL_STRENGTH:g}), BM3D at its best fixed level, "
                              "ground truth; titles: PSNR of the crop.")


def deep_label(inputs, deep):
    """The deep model: its network, blind training recipe and where it was trained."""
    config, records = deep["run"]["config"], deep["records"]
    drops = [r["epoch"] for previous, r in zip(records, records[1:]) if r["lr"] != previous["lr"]]
    schedule = (f"Adam, lr {records[0]['lr']:g} for {drops[0] - 1} epochs, then {records[-1]['lr']:g} up to "
                f"epoch {records[-1]['epoch']}" if drops else f"Adam, lr {records[0]['lr']:g}, {len(records)} epochs")
    best = max(records, key=lambda r: r["val_psnr"])
    twin = inputs.runs.get("deep_twin")
    twin_text = ""
    if twin:
        where = "float32 on this CPU" if twin["run"]["config"].get("device") == "cpu" else "GPU, TF32"
        twin_text = (f"; its torch.nn twin (same data, weights, batches and schedule; {where}): "
                     f"{max(r['val_psnr'] for r in twin['records']):.2f} dB")
        others = [f"{label} {max(r['val_psnr'] for r in read_metrics(inputs.results / folder)):.2f}"
                  for label, folder in (("GPU TF32", "deep_twin_tf32"), ("GPU float32", "deep_twin_fp32"))
                  if (inputs.results / folder / METRICS_FILE).is_file()]
        if others:
            twin_text += f" (other twins: {', '.join(others)})"
    build = deep["data"] or {}
    return (f"**The deep model** (`Model(arch=\"deep\")`, same framework): a U-Net of {len(config['channels'])} "
            f"levels {tuple(config['channels'])} wide, two 3×3 convolutions with leaky ReLU (0.1) per level and "
            f"way, max-pooling down, nearest upsampling up, skips joined by {config['skip']}, and a residual "
            f"output (the network predicts a correction of its input). It is trained blind: every epoch draws a "
            f"new Noise2Noise pair of each of {count(deep['run']['n_train'])} clean "
            f"{build.get('size', 64)}×{build.get('size', 64)} training crops, σ uniform in "
            f"[{', '.join(f'{v:g}' for v in build.get('train_sigma_range', (0, 50)))}], clipped input and unclipped "
            f"target; {schedule}, {seconds(records[-1]['cumulative_seconds'])} on one H200 GPU "
            f"(`tools/train_deep.sh`, TF32 matrix products); best validation PSNR {best['val_psnr']:.2f} dB on "
            f"64×64 crops{twin_text}. Its `predict` then blends lightly noisy pictures back toward their input "
            f"by a SURE weight (`others/denoisers/shrinkage.py`) and shifts each channel to the colour under which the "
            f"noisy picture is most likely, clipped noise included (`others/denoisers/clipping.py`). "
            f"`benchmarks/deep_ablation.py` compares "
            f"variants (appendix).")


def schedule_label(run):
    """A sentence on where the learning rate left the run's starting one (``n2n train --resume --lr``)."""
    start = run["run"]["config"]["lr"]
    changed = next((r for r in run["records"] if r.get("lr", start) != start), None)
    if changed is None:
        return ""
    return f" From epoch {changed['epoch']} on, the learning rate was {changed['lr']:g} (`n2n train --resume --lr`)."


def training_data_label(build):
    """A sentence on the committed model's training data, from the copy of its build.json."""
    if not build:
        return ""
    photos = build["train_photos"]
    sources = sorted({"scikit-image" if "skimage" in Path(p).parts else Path(p).parent.name for p in photos})
    text = (f" Its training data: {count(build['n_train'])} pairs cut from {len(photos)} photographs "
            f"(folders: {', '.join(sources)}; the list is in results/best/data_build.json)")
    if build.get("train_sigma_range"):
        lo, hi = build["train_sigma_range"]
        text += f", σ drawn per picture in [{lo:g}, {hi:g}]"
    if build.get("augment"):
        text += f", colour augmentation: {', '.join(build['augment'])}"
    if build.get("unclipped_targets"):
        text += ", unclipped targets (no colour bias learnt from clipping at 0 and 255)"
    return text + "."


def noise_levels(doc, sigmas, key):
    """The per-noise-level table of benchmarks/quality.py for the evaluation set ``key``:
    the required network, the deep one (ours and its twin), non-local means and BM3D."""
    captions = {"validation": "the validation pictures (photographs of the training source's package)",
                "unseen": "the unseen-source test set (photographs of a package no model trained on)",
                "unseen_large": "larger pictures of the unseen source"}
    if key not in sigmas:
        return
    result = sigmas[key]
    rows = []
    by_sigma = {}
    for row in result["rows"]:
        by_sigma.setdefault(row["sigma"], {})[row["denoiser"]] = row
    names = {model: name for name, impl, model in benchmark("quality").SWEPT if impl == "nograd"}
    twin_name = next(name for name, impl, model in benchmark("quality").SWEPT if (impl, model) == ("torch", "deep"))
    ensembled = benchmark("quality").ENSEMBLE[0]
    for sigma, cells in by_sigma.items():
        required, deep, twin = cells[names["required"]], cells[names["deep"]], cells[twin_name]
        nl_means, bm3d = cells[BASELINES["nl_means"][0]], cells.get(BM3D_LABEL)
        paired = (f"{bm3d['psnr']:.2f} / {bm3d['paired'][names['deep']]['psnr']:.2f}" if bm3d and "paired" in bm3d
                  else (f"{bm3d['psnr']:.2f}" if bm3d else ""))
        rows.append((f"{sigma:g}", f"{deep['input_psnr']:.2f}", f"{required['psnr']:.2f}",
                     f"**{deep['psnr']:.2f}**", f"{100 * deep['worse']:.1f}%",
                     f"{deep['colour_shift']:.1f}" + (f" ({deep['colour_floor']:.1f})" if "colour_floor" in deep else ""),
                     f"{cells[ensembled]['psnr']:.2f}" if ensembled in cells else "",
                     f"{twin['psnr']:.2f}", f"{nl_means['psnr']:.2f}", f"{100 * nl_means['worse']:.0f}%", paired))
    subset = next((r["n"] for r in result["rows"] if r["denoiser"] == BM3D_LABEL), None)
    doc.table(["σ", "input", "required", "deep", "worse", "colour", "×8", "twin", "NL-means", "worse", "BM3D / deep"],
              rows,
              f"PSNR (dB) per noise level σ on {captions.get(key, key)}, {count(result['n'])} pictures"
              + (f" of {result['size']}" if "size" in result else "") + ", noise "
              "added to the clean pictures: ours with the required network (bestmodel.pkl) and the deep one "
              "(bestmodel_deep.pkl; ×8: its mean over the 8 flips/rotations of each picture, predict's "
              "ensemble=8), the deep torch.nn twin (bestmodel_deep.pth), non-local means (blind) and "
              "BM3D (told σ"
              + (f"; on the first {subset} pictures, next to the deep model on the same pictures)" if subset else ")")
              + ". Worse: share of pictures below their noisy input; colour: mean |shift| of the "
              "per-channel means, 0–255 levels (in brackets: the noise's own) (`python benchmarks/quality.py`).",
              spans=[("", 3), ("deep (ours)", 4), ("", 1), ("non-local means", 2), ("", 1)])


def ablation(doc, inputs):
    doc.heading("Ablation", size=11)
    if inputs.ablation is None or not inputs.ablation.get("runs"):
        missing_note(doc, "results/ablation.json", "python benchmarks/ablation.py")
        return
    a = inputs.ablation
    bars = ablation_bars(a)
    base = next(b for b in bars if b[1] == "base")
    variants = [b for b in bars if b[1] != "base"]
    text = (f"`benchmarks/ablation.py` changes one factor at a time from a base configuration "
            f"({config_label(a['base'])}), every run from the same seed on the first {count(a['subset'])} "
            f"training pairs for {a['epochs']} epochs (Figure {doc.figures + 1}). The base reaches "
            f"{base[2]:.2f} dB in {seconds(base[3])}.")
    if variants:
        best = max(variants, key=lambda b: b[2])
        text += (f" The best variant ({best[0]}) changes the PSNR by {signed(best[2] - base[2])} dB for "
                 f"{best[3] / base[3]:.1f}× the training time")
        worst = min(variants, key=lambda b: b[2])
        text += f"; the worst ({worst[0]}) by {signed(worst[2] - base[2])} dB." if worst is not best else "."
    doc.paragraph(text)
    if len(bars) < inputs.ablation_planned:
        doc.note(f"Partial ablation: {len(bars)} of the {inputs.ablation_planned} runs of benchmarks/ablation.py had "
                 f"finished when this report was built; rebuild it with `python report/build_report.py` once the "
                 f"run ends.")
    doc.figure(0.6 + 0.2 * len(bars), figures.ablation(bars),
               "One factor at a time from the base: validation PSNR after the last epoch (left) and the "
               "training time of all epochs (right; wall-clock on a shared machine, so only indicative); the "
               "dashed lines mark the base run.")


def deep_ablation(doc, inputs):
    """benchmarks/deep_ablation.py: the deep model's variants at three noise levels."""
    a = inputs.deep_ablation
    if a is None:
        return
    sigmas = a["sigmas"].split(",")
    rows = []
    for name, result in a["variants"].items():
        cells = [result["sigmas"][f"{float(sigma)}"] for sigma in sigmas]
        rows.append((name, *(f"{c['psnr']:.2f} ({100 * c['worse']:.0f}%)" for c in cells),
                     f"{result['epochs'][-1]:.2f}"))
    doc.table(["variant", *(f"σ {sigma}" for sigma in sigmas), "σ 24.6, last epoch"], rows,
              f"Deep-model ablation (`benchmarks/deep_ablation.py`): one factor at a time from the base, each "
              f"variant trained {a['epochs']} epochs of {count(a['crops_per_epoch'])} 64×64 crops' worth of pixels "
              f"with fresh noise (σ 0–50) on an H200, scored on the validation crops: PSNR (dB) and share made "
              f"worse than the noisy input. Short runs: the committed model trained 5× longer. Patch 32 does "
              f"4× the optimizer steps of the base for the same pixels.",
              align=["l"] + ["r"] * (len(sigmas) + 1))


def appendix(doc, inputs):
    doc.new_page()
    doc.heading("Appendix", size=13)
    real_noise(doc, inputs)
    if inputs.val is not None:
        untrained = "" if inputs.trained else " (UNTRAINED: the committed model was missing)"
        noisy, denoised, clean, scores = denoised_examples(inputs)
        doc.figure(2.25, figures.examples(noisy, denoised, clean, scores),
                   f"Validation pictures denoised by the committed required network{untrained}, with each "
                   f"picture's PSNR.")
    if inputs.quality is not None and inputs.quality.get("sigmas"):
        noise_levels(doc, inputs.quality["sigmas"], "validation")
        noise_levels(doc, inputs.quality["sigmas"], "unseen_large")
    deep_ablation(doc, inputs)
    ablation(doc, inputs)
    if inputs.ablation and inputs.ablation.get("runs"):
        a = inputs.ablation
        epochs = max(len(r["history"]) for r in a["runs"].values())
        rows = []
        for (label, _, _, total), run in zip(ablation_bars(a), ordered_runs(a)):
            psnrs = [f"{h['val_psnr']:.2f}" for h in run["history"]] + [""] * (epochs - len(run["history"]))
            rows.append((label, *psnrs, seconds(total)))
        doc.table(["run", *(f"epoch {e + 1} (dB)" for e in range(epochs)), "training time"], rows,
                  f"The ablation per epoch: validation PSNR after each epoch on {count(a['subset'])} pairs "
                  f"(noisy input {a['noisy_psnr']:.2f} dB).", align=["l"] + ["r"] * (epochs + 1))
    if inputs.runs:
        rows = []
        for run in inputs.runs.values():
            records = run["records"]
            best = max(records, key=lambda r: r["val_psnr"])
            per_epoch = sum(r["epoch_seconds"] for r in records) / len(records)
            rows.append((run["name"], run["run"]["impl"], config_label(run["run"]["config"]),
                         f"{count(run['run']['n_train'])} × {len(records)}",
                         f"{best['val_psnr']:.2f} ({best['epoch']})", seconds(per_epoch)))
        doc.table(["run", "impl", "configuration", "pairs × epochs", "best dB (epoch)", "per epoch"], rows,
                  f"The training runs of Table {doc.labels['quality']} (`n2n train`; `nograd` is this framework, "
                  f"`torch` its torch.nn twin). Training time per epoch excludes validation.",
                  align=["l", "l", "l", "r", "r", "r"], max_width=[1.5, None, 2.1, None, None, None])
    doc.heading("Reproducing this report", size=11)
    doc.bullets([
        "`n2n data` — the data set (data/train_data.pkl, val_data.pkl, build.json);",
        "`n2n train` into runs/best, runs/twin (with `--impl torch`) and runs/seed (with `--preset seed`) — the "
        "training runs; runs/best/best.pkl is Proj_SCIPER/Miniproject_2/bestmodel.pkl;",
        "`python benchmarks/speed.py --epoch`, `python benchmarks/ablation.py`, `python benchmarks/quality.py` — "
        "results/speed.json, ablation.json, quality.json (and results/<run>/ copies of the runs);",
        "`tools/train_deep.sh cuda 24` (the committed run had `TIME_LIMIT=3.5`), into runs/deep and runs/deep_twin — the deep "
        "model and its twin (the committed twin is the same recipe's `n2n train --impl torch --device cpu` run on this CPU, "
        "in float32; README, the deep model's targets); `python benchmarks/deep_ablation.py --device cuda --jobs 8` — "
        "results/deep_ablation.json;",
        "`python report/build_report.py` — this PDF, from those files only.",
    ])
    if inputs.missing:
        doc.note("Inputs missing when this report was built: " + "; ".join(inputs.missing) + ".")


def build(results, data, checkpoint, out):
    inputs = Inputs(results, data, checkpoint)
    doc = Document(out, TITLE)
    doc.title(TITLE, "EE-559 Miniproject 2: a framework with hand-written gradients, and a denoiser trained with it")
    summary(doc, inputs)
    framework(doc, inputs)
    verification(doc)
    speed(doc, inputs)
    quality(doc, inputs)
    appendix(doc, inputs)
    return doc.close(), inputs.missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(ROOT / "results"), help="folder of the result files")
    parser.add_argument("--data", default=str(ROOT / "data"), help="folder of val_data.pkl and build.json")
    parser.add_argument("--checkpoint", default=str(CHECKPOINTS["simple"]), help="the model that denoises the pictures")
    parser.add_argument("--out", default=str(OUT), help="the PDF to write")
    args = parser.parse_args(argv)
    pages, missing = build(args.results, args.data, args.checkpoint, args.out)
    print(f"wrote {args.out} ({pages} pages)")
    for line in missing:
        print(f"missing: {line}", file=sys.stderr)


if __name__ == "__main__":
    main()
