"""``n2n photos``, ``n2n data`` and ``n2n testset``: the photos and the data sets built from them."""
from __future__ import annotations

from pathlib import Path

from ..camera import NOISE_KINDS, SHOT_RANGE, CameraSettings
from .common import Formatter, positive_int, wrap

NOISE_MODEL = """\
noise model:
  noisy = clip(round(clean + sigma * z), 0, 255) on the 0-255 scale, z standard
  normal and independent per pixel and channel.  Training pictures get two
  independent draws (noisy_a, noisy_b); validation pictures one, stored with
  the clean picture.  sigma is calibrated by bisection so that the validation
  input PSNR (the grader's: mean over pictures of -10 log10 MSE on [0, 1]) is
  20.7 dB, as on the course's validation set (sigma is about 24.5 with the
  default photos).

pictures:
  square crops with a side drawn log-uniformly between SIZE px and the photo's
  short side, area-downsampled to SIZE x SIZE, as the course's pictures are
  whole photos shrunk to 32x32.  Photos, never crops, are split between
  training and validation.  Default photos: the colour photographs shipped
  inside scikit-image (training: astronaut, motorcycle_left/right, rocket,
  hubble_deep_field, ihc, retina; validation: chelsea, coffee).  With --photos,
  every PNG/JPEG below DIR is used (converted to RGB) and the photos whose
  SHA-1 of relative path is smallest -- a fifth, at least one -- validate.
"""


def cmd_photos(args) -> int:
    from ..photos import fetch

    for role, paths in fetch(args.out, log=print).items():
        print(f"{role}: {len(paths)} photos in {Path(args.out) / role}")
    return 0


def cmd_data(args) -> int:
    from ..data import TRAIN_CLEAN_FILE, TRAIN_FILE, VAL_FILE, build

    camera = None
    if args.shot_range is not None or args.soften is not None:
        camera = CameraSettings(args.shot_range or SHOT_RANGE, args.soften)
    report = build(args.out, photos=args.photos, n_train=args.n_train, n_val=args.n_val,
                   size=args.size, seed=args.seed, extra_train=args.train_photos or (),
                   sigma_range=args.sigma_range, augment=args.augment or (),
                   unclipped_targets=args.unclipped_targets, fresh_noise=args.fresh_noise,
                   noise=args.noise, camera=camera, log=print)
    _print_skipped(report, args.size)
    train_file = (f"{TRAIN_CLEAN_FILE} ({report.n_train} clean pictures)" if args.fresh_noise
                  else f"{TRAIN_FILE} ({report.n_train} noisy pairs)")
    print(f"wrote {Path(args.out) / train_file} and "
          f"{Path(args.out) / VAL_FILE} ({report.n_val} noisy/clean pairs), "
          f"{args.size}x{args.size}, in {report.seconds:.1f} s")
    return 0


def _print_skipped(report, size: int) -> None:
    for path in report.skipped_photos:
        print(f"skipped {path}: its short side is below {size} px")
    for line in report.duplicate_photos:
        print(f"skipped {line}")


def cmd_testset(args) -> int:
    from ..data import TEST_FILE, build_testset

    report = build_testset(args.out, args.photos, n=args.n, size=args.size, seed=args.seed, log=print)
    _print_skipped(report, args.size)
    print(f"wrote {Path(args.out) / TEST_FILE} ({report.n} clean pictures of {args.size}x{args.size} "
          f"from {len(report.photos)} photos) in {report.seconds:.1f} s")
    return 0


def add_parser(commands) -> None:
    """The photos, data and testset commands."""
    photos = commands.add_parser(
        "photos", formatter_class=Formatter,
        help="install the pinned photo collections (training, unseen-source test)",
        description=wrap("Download Debian's wallpaper packages (without installing them), check "
                          "each photograph's SHA-256 and copy it to OUT/train/PACKAGE/ (more "
                          "training photos: lomiri-wallpapers-16.04 and -20.04), OUT/train2/PACKAGE/ "
                          "(the camera model's second and fourth training steps: plasma-workspace-wallpapers) or "
                          "OUT/unseen/PACKAGE/ (a source used only for testing: the nature photos "
                          "of mate-backgrounds).  Needs apt-get and dpkg-deb, no root rights; "
                          "about 170 MB to download."))
    photos.add_argument("--out", metavar="DIR", default="photos", help="output folder (default: photos)")
    photos.set_defaults(handler=cmd_photos)

    data = commands.add_parser(
        "data", formatter_class=Formatter, help="build train_data.pkl and val_data.pkl from photos",
        description=wrap("Build a data set in the course's format (train_data.pkl: uint8 "
                          "(noisy_a, noisy_b); val_data.pkl: uint8 (noisy, clean); each "
                          "(N, 3, SIZE, SIZE)) from photographs.  Deterministic for a given "
                          "--seed and photos."),
        epilog=NOISE_MODEL)
    data.add_argument("--photos", metavar="DIR",
                      help="folder of your own PNG/JPEG photos, searched recursively "
                           "(default: the photos bundled with scikit-image)")
    data.add_argument("--out", metavar="DIR", default="data", help="output folder (default: data)")
    data.add_argument("--n-train", type=positive_int, default=50_000, metavar="N",
                      help="training pairs (default: 50000, as in the course)")
    data.add_argument("--n-val", type=positive_int, default=1_000, metavar="N",
                      help="validation pairs (default: 1000, as in the course)")
    data.add_argument("--size", type=positive_int, default=32, metavar="PX",
                      help="side of the pictures in pixels (default: 32)")
    data.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    data.add_argument("--train-photos", metavar="DIR", action="append",
                      help="add every PNG/JPEG below DIR to the training side only (repeatable); "
                           "e.g. photos/train from `n2n photos`")
    data.add_argument("--sigma-range", metavar=("LO", "HI"), nargs=2, type=float,
                      help="draw each training picture's noise sigma uniformly in [LO, HI] (0-255 "
                           "scale) instead of using the calibrated one; validation keeps it")
    data.add_argument("--augment", action="append", choices=("channels", "gain", "exposure"),
                      help="colour augmentation of the training pictures (repeatable): channels "
                           "permutes the RGB channels of each picture, gain scales each channel "
                           "by a random factor in [0.6, 1], exposure by one in [0.6, 1/0.6] that "
                           "never pushes the channel's brightest pixel past 255")
    data.add_argument("--unclipped-targets", action="store_true",
                      help="store the training targets (noisy_b) unclipped, as int16, so that the "
                           "network does not learn clipping's colour bias; not the course's format")
    data.add_argument("--fresh-noise", action="store_true",
                      help="store the clean training pictures (train_clean.pkl) instead of noisy "
                           "pairs: n2n train then draws a new pair of each picture every epoch, "
                           "sigma per picture in --sigma-range (required)")
    data.add_argument("--noise", choices=NOISE_KINDS, default="gaussian",
                      help="with --fresh-noise: the training pairs' noise. gaussian: white, one sigma "
                           "a picture (default); camera: a camera's raw shot and read noise, "
                           "demosaiced, processed back to sRGB with the camera's noise reduction and "
                           "sharpening, JPEG for 60%%; mixture: 45%% gaussian, 40%% camera, 15%% grey "
                           "pictures, JPEG for 30%% of the gaussian and grey ones and 60%% of the camera "
                           "ones; mixture-lossless: the same without JPEG. Validation gets the same")
    data.add_argument("--shot-range", metavar=("LO", "HI"), nargs=2, type=float,
                      help="with camera noise: the shot noise's range (variance per unit of raw "
                           "signal on [0, 1], drawn log-uniformly; default: "
                           f"{SHOT_RANGE[0]:g} {SHOT_RANGE[1]:g}), the read noise following it; a "
                           "lower HI trains on light noise, as a camera's at low and middle ISO")
    data.add_argument("--soften", metavar=("LO", "HI"), nargs=2, type=float,
                      help="with camera noise: blur each clean camera picture by a Gaussian of a "
                           "sigma drawn in [LO, HI] pixels before the camera sees it, as a camera's "
                           "full-resolution picture is softer than a photo made small for a screen "
                           "(default: none)")
    data.set_defaults(handler=cmd_data)

    testset = commands.add_parser(
        "testset", formatter_class=Formatter, help="build a clean test set from a folder of photos",
        description=wrap("Cut clean SIZE x SIZE pictures from every PNG/JPEG below PHOTOS, the way "
                          "`n2n data` does, into OUT/test_clean.pkl (uint8 (N, 3, SIZE, SIZE)).  "
                          "`n2n evaluate --testset OUT` adds noise at each level asked for.  Use "
                          "photos of a source that no training or validation photo comes from."))
    testset.add_argument("--photos", metavar="DIR", required=True,
                         help="folder of photos, e.g. photos/unseen from `n2n photos`")
    testset.add_argument("--out", metavar="DIR", default="data/unseen",
                         help="output folder (default: data/unseen)")
    testset.add_argument("--n", type=positive_int, default=2_000, help="pictures (default: 2000)")
    testset.add_argument("--size", type=positive_int, default=32, metavar="PX",
                         help="side of the pictures in pixels (default: 32)")
    testset.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    testset.set_defaults(handler=cmd_testset)
