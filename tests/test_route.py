"""The default denoiser's choice between the camera model and the white-noise (deep) model."""
import torch

from helpers import smooth_pictures
from n2n_nograd import camera, cli, route


def noises(n, size=64, seed=0):
    """Clean smooth pictures and three kinds of noise over them: white, blurred (a camera's,
    correlated between neighbours) and grey (the same in the three channels)."""
    clean = smooth_pictures(n, 3, size, size).double()
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(clean.shape, generator=g, dtype=torch.float64) * 8
    blurred = camera.gaussian_blur(torch.randn(clean.shape, generator=g, dtype=torch.float64),
                                   torch.full((n,), 1.5, dtype=torch.float64)) * 24
    grey = torch.randn((n, 1, size, size), generator=g, dtype=torch.float64).expand(-1, 3, -1, -1) * 8
    return clean, {"white": white, "blurred": blurred, "grey": grey}


def test_white_noise_is_told_from_a_cameras_and_a_grey_pictures():
    clean, kinds = noises(6)
    for kind, noise in kinds.items():
        found = route.white_noise((clean + noise).float(), clean.float())
        assert found.tolist() == [kind == "white"] * 6, kind


class Stub:
    """A model whose predict writes ``value`` (or the clean pictures) and records its calls."""

    def __init__(self, result):
        self.result, self.calls, self.config = result, [], {"arch": "deep"}

    def predict(self, x, out=None, ensemble=1, progress=False, strength=1.0, unclipped=False):
        self.calls.append((len(x), ensemble, strength, unclipped))
        out = x.new_empty(x.shape, dtype=torch.float32) if out is None else out
        return out.copy_(self.result(x))


def test_the_router_sends_white_noise_to_the_white_noise_model_only():
    clean, kinds = noises(2)
    pictures = torch.cat([clean[:1] + kinds["white"][:1], clean[1:] + kinds["grey"][1:]]).float()
    lookup = {pictures[i].sum().item(): clean[i].float() for i in range(2)}
    camera_model = Stub(lambda x: torch.stack([lookup[p.sum().item()] for p in x]))
    white_model = Stub(lambda x: torch.full_like(x, 7.0, dtype=torch.float32))
    out = route.Router(camera_model, white_model).predict(pictures, ensemble=2, strength=0.5)
    # The camera model judges at strength 1; the strength asked goes to each picture's result.
    assert camera_model.calls == [(2, 2, 1.0, False)] and white_model.calls == [(1, 2, 0.5, False)]
    assert (out[0] == 7).all() and torch.allclose(out[1], (pictures[1] + clean[1].float()) / 2)
    default = route.Router(camera_model, white_model).predict(pictures, out=torch.empty_like(pictures))
    assert torch.equal(default[1], clean[1].float()), "at strength 1 the camera model's result as it is"


def test_auto_loads_both_committed_models_and_a_checkpoint_alone(tmp_path):
    router = cli.load_model("nograd", None, "cpu", "auto")
    assert isinstance(router, route.Router) and router.camera is not router.white
    router.white.save_model(tmp_path / "w.pkl")
    assert not isinstance(cli.load_model("nograd", str(tmp_path / "w.pkl"), "cpu", "auto"), route.Router)


def test_a_large_picture_is_judged_on_its_centre_then_denoised_by_one_model():
    """Past PROBE pixels a side, the camera model sees only the central square to judge the
    noise, and the whole picture goes through the one model chosen."""
    h, w, p = route.PROBE + 40, route.PROBE + 48, route.PROBE
    clean = smooth_pictures(1, 3, h, w).double()
    centre = clean[:, :, 20:20 + p, 24:24 + p].float()
    g = torch.Generator().manual_seed(0)
    kinds = {"white": torch.randn(clean.shape, generator=g, dtype=torch.float64) * 8,
             "grey": torch.randn((1, 1, h, w), generator=g, dtype=torch.float64).expand(-1, 3, -1, -1) * 8}
    for kind, noise in kinds.items():
        camera_model = Stub(lambda x: centre if x.shape[-1] == p else clean.float())
        white_model = Stub(lambda x: torch.full_like(x, 7.0, dtype=torch.float32))
        out = route.Router(camera_model, white_model).predict((clean + noise).float(), ensemble=2)
        if kind == "white":
            assert camera_model.calls == [(1, 1, 1.0, False)] and white_model.calls == [(1, 2, 1.0, False)]
            assert (out == 7).all()
        else:
            assert camera_model.calls == [(1, 1, 1.0, False), (1, 2, 1.0, False)] and white_model.calls == []
            assert torch.equal(out, clean.float())
