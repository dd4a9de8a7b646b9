"""Conv2d, Sigmoid and Sequential against torch, the way the course grader compares them.

The grader checks ``Conv2d(3, 3, 3).forward(x)`` against ``F.conv2d(x, conv.weight,
conv.bias)`` for ``x = torch.randn(1, 3, 32, 32)`` with ``torch.allclose`` at default
tolerances (atol 1e-8: an element near zero tolerates almost no rounding difference), and
likewise Sigmoid and ``Sequential(conv, sigmoid)``. torch itself picks a backend per shape:
oneDNN for most, its im2col reference (``Slow2d``/``SlowDilated2d``: unfold, then one GEMM
per sample starting from the bias) for small single-image problems such as the grader's.
Our contiguous NCHW path follows the reference's accumulation order, so it is compared
bit for bit with the reference: on one thread (both sides alike, and fast on a loaded
machine) and, for the grader's own check, under torch's default threading as well.
"""
import contextlib
import itertools
import random
import warnings

import pytest
import torch
import torch.nn.functional as F

from helpers import report, single_thread
from Miniproject_2.others import Conv2d, Sequential, Sigmoid

SEEDS = 500
CHECKS = ("Conv2d(3, 3, 3) vs F.conv2d", "Sigmoid vs torch.sigmoid",
          "Sequential(conv, sigmoid) vs F.conv2d(...).sigmoid()")
REFERENCE_BACKENDS = {"Slow2d", "SlowDilated2d"}


@contextlib.contextmanager
def im2col_reference():
    """Make F.conv2d use torch's im2col reference: oneDNN off, and NNPACK off where torch has it
    (without the switch, the grid below keeps batches under 16, where NNPACK is never chosen)."""
    nnpack = getattr(torch.backends, "nnpack", None)
    with warnings.catch_warnings():
        # mkldnn.flags() warns about TF32 on Intel GPUs, irrelevant here.
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False), \
                (nnpack.flags(enabled=False) if nnpack else contextlib.nullcontext()):
            yield


def backend(conv, x):
    """The backend F.conv2d selects for this convolution under the current flags."""
    chosen = torch._C._select_conv_backend(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                            conv.dilation, False, (0, 0), 1)
    return chosen.name


def torch_conv(conv, x):
    return F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation)


def grader_checks(seeds):
    """Run the grader's three comparisons on ``seeds`` seeds; report and return the counts."""
    counts = {name: {"allclose": 0, "identical": 0} for name in CHECKS}
    for seed in range(seeds):
        torch.manual_seed(seed)
        conv = Conv2d(3, 3, 3)
        x = torch.randn(1, 3, 32, 32)
        pairs = ((conv.forward(x), F.conv2d(x, conv.weight, conv.bias)),
                 (Sigmoid().forward(x), torch.sigmoid(x)),
                 (Sequential(conv, Sigmoid()).forward(x), F.conv2d(x, conv.weight, conv.bias).sigmoid()))
        for name, (ours, theirs) in zip(CHECKS, pairs):
            counts[name]["allclose"] += torch.allclose(ours, theirs)
            counts[name]["identical"] += torch.equal(ours, theirs)
    report(f"exactness: the grader's checks, {seeds} seeds, {torch.get_num_threads()} thread(s)",
           [f"{name}: {c['allclose']}/{seeds} allclose (default tolerances), {c['identical']}/{seeds} bit-identical"
            for name, c in counts.items()])
    return counts


def assert_grader_passes(counts, seeds):
    assert all(c["allclose"] >= seeds - 1 for c in counts.values()), counts
    assert counts[CHECKS[0]]["identical"] == seeds, "the grader's convolution is no longer bit-identical to torch's"


@pytest.mark.usefixtures("one_thread")
def test_grader_checks_on_500_seeds():
    assert_grader_passes(grader_checks(SEEDS), SEEDS)


def test_grader_checks_under_default_threading():
    """The same with torch's default thread count, as the grader runs (fewer seeds: on a
    loaded machine every multi-threaded op waits for a second core)."""
    assert_grader_passes(grader_checks(50), 50)


def tiny_gemm(n, conv, out):
    """Problems where ATen's batched matrix product (used by our NCHW path) leaves BLAS:
    under 400 multiply-adds per matrix it runs a naive loop that adds the bias after the
    sum (baddbmm_cpu_kernel in aten/src/ATen/native/LinearAlgebra.cpp), and single-column
    products of several images also round differently from the reference's per-image GEMM.
    So do one-deep products (one input channel, a 1x1 kernel) of several images on some CPUs:
    a single multiply-add with the bias, 1 ulp apart from the reference on an AVX-512 Xeon
    (2026-12-01), identical on the machines before it."""
    k = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    columns = out.shape[2] * out.shape[3]
    return k * conv.out_channels * columns < 400 or (n > 1 and (columns == 1 or k == 1))


def grid():
    """A reproducible sample of shapes, strides, paddings, dilations and bias=False."""
    batches = (1, 2, 16) if hasattr(torch.backends, "nnpack") else (1, 2, 15)
    product = itertools.product(batches, ((3, 3), (1, 4), (8, 16)), ((32, 32), (17, 9), (5, 6)),
                                (1, 3, (2, 5), 7), (1, 2), (0, 1, 3), (1, 2), (True, False))
    cases = [case for case in product if _fits(*case)]
    return random.Random(0).sample(cases, 300)


def _fits(n, channels, size, kernel, stride, padding, dilation, bias):
    """The dilated kernel fits in the padded input."""
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    return all(d_k <= s + 2 * padding for d_k, s in zip((dilation * (k - 1) + 1 for k in kernel), size))


def compare_grid():
    """Per kind of product: how many grid shapes match torch's reference, and how."""
    counts = {}
    for i, (n, (cin, cout), size, kernel, stride, padding, dilation, bias) in enumerate(grid()):
        torch.manual_seed(i)
        conv = Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias)
        x = torch.randn(n, cin, *size)
        ours, default = conv.forward(x), torch_conv(conv, x)
        with im2col_reference():
            assert backend(conv, x) in REFERENCE_BACKENDS
            reference = torch_conv(conv, x)
        kind = "tiny GEMM" if tiny_gemm(n, conv, ours) else "BLAS GEMM"
        default_is_reference = backend(conv, x) in REFERENCE_BACKENDS
        row = counts.setdefault(kind, {"shapes": 0, "identical to reference": 0, "allclose to reference": 0,
                                       "within float32 rounding": 0, "default is reference": 0,
                                       "identical to default": 0})
        row["shapes"] += 1
        row["identical to reference"] += torch.equal(ours, reference)
        row["allclose to reference"] += torch.allclose(ours, reference)
        row["within float32 rounding"] += torch.allclose(ours, reference, rtol=1.3e-6, atol=1e-5)
        row["default is reference"] += default_is_reference
        row["identical to default"] += default_is_reference and torch.equal(ours, default)
    return counts


@pytest.fixture(scope="module")
def grid_counts():
    with single_thread():
        counts = compare_grid()
    report("exactness: contiguous NCHW Conv2d vs torch's im2col reference (random grid)",
           [f"{kind}: " + ", ".join(f"{name} {value}" for name, value in row.items())
            for kind, row in sorted(counts.items())])
    return counts


def test_bit_identical_to_torch_reference_wherever_the_product_runs_in_blas(grid_counts):
    row = grid_counts["BLAS GEMM"]
    assert row["identical to reference"] == row["shapes"]
    # Where torch's default is its reference, the grader's comparison is exact as well.
    assert row["identical to default"] == row["default is reference"] > 0


@pytest.mark.xfail(strict=True, reason="framework: conv2d.py forward's baddbmm rounds tiny products "
                                       "differently from torch's per-image GEMM (see tiny_gemm)")
def test_bit_identical_to_torch_reference_for_tiny_products(grid_counts):
    row = grid_counts["tiny GEMM"]
    assert row["identical to reference"] == row["shapes"]


def test_every_shape_is_within_float32_rounding_of_the_reference(grid_counts):
    """Where bits differ, only the summation order does (assert_close's float32 tolerances);
    at allclose's default atol of 1e-8 an output near zero can still fail."""
    assert grid_counts["tiny GEMM"]["shapes"] > 0
    assert all(row["within float32 rounding"] == row["shapes"] for row in grid_counts.values())


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
def test_torch_onednn_differs_from_its_own_im2col_reference():
    """Why bit-matching is only meaningful against the reference: torch's default oneDNN
    result for a batch of 8 is not even allclose (default tolerances) to torch's own
    reference, while our result equals the reference bit for bit."""
    trials = 20
    onednn_not_close = ours_identical = 0
    for seed in range(trials):
        torch.manual_seed(seed)
        conv = Conv2d(3, 3, 3)
        x = torch.randn(8, 3, 32, 32)
        assert backend(conv, x) == "Mkldnn"
        onednn = torch_conv(conv, x)
        with im2col_reference():
            reference = torch_conv(conv, x)
        onednn_not_close += not torch.allclose(onednn, reference)
        ours_identical += torch.equal(conv.forward(x), reference)
    report("exactness: torch's oneDNN vs torch's im2col reference, Conv2d(3, 3, 3) on 8x3x32x32", [
        f"oneDNN not allclose to the reference: {onednn_not_close}/{trials}",
        f"ours identical to the reference:      {ours_identical}/{trials}",
    ])
    assert onednn_not_close > 0
    assert ours_identical == trials
