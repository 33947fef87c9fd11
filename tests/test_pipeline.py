import threading

import cv2
import numpy as np
import pytest
import torch

from colorizer_app.engine.pipeline import (
    ColorizeSettings,
    colorize,
    compose,
    fit_long_side,
    predict_ab,
    render_luminance,
    render_shape,
    upsample_rows,
)
from colorizer_app.engine.runner import GeneratorRunner
from models import GeneratorConfig, load_generator
from models import device as device_module
from models.color import luminance, merge_l_ab, rgb_to_lab
from models.device import cpu_has_native_bf16, resolve_device, resolve_precision
from models.errors import Cancelled, InferenceError, SettingsError
from models.progress import CallbackProgress
from tests.conftest import make_generator_file, smooth_photo

# fp32: these tests compare with plain torch and whole-image references (auto may be bf16)
FAST = ColorizeSettings(render_size=300, tile=256, overlap=64, batch_size=2, precision="fp32")


def _hasler(rgb):
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())


def test_render_shape_never_upscales():
    assert render_shape(4000, 6000, 512) == (341, 512)
    assert render_shape(300, 200, 512) == (300, 200)
    assert render_shape(4000, 6000, None) == (4000, 6000)
    assert render_shape(1, 10000, 100) == (1, 100)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_output_keeps_the_full_resolution_luminance(tiny_generator, dtype):
    photo = smooth_photo(700, 500, dtype=dtype)
    runner = FAST.make_runner(tiny_generator)
    rgb = colorize(photo, runner, FAST)
    assert rgb.shape == (700, 500, 3) and rgb.dtype == dtype
    L_in, L_out = luminance(photo), luminance(rgb)
    in_gamut = np.abs(L_out - L_in) < 2.0
    assert in_gamut.mean() > 0.95  # clamping into sRGB may move L for saturated colours
    assert _hasler(rgb.astype(np.float64) / np.iinfo(dtype).max * 255) > 3.0  # not gray


def test_strength_zero_returns_the_input_gray(tiny_generator):
    photo = smooth_photo(120, 90)
    runner = FAST.make_runner(tiny_generator)
    rgb = colorize(photo, runner, FAST.with_(strength=0.0))
    assert np.abs(rgb.astype(int) - photo[..., None]).max() <= 1


def test_strength_rescales_cached_ab_without_the_network(tiny_generator):
    photo = smooth_photo(200, 260)
    runner = FAST.make_runner(tiny_generator)
    ab = predict_ab(photo, runner, FAST)
    weak, strong = compose(photo, ab, 0.5), compose(photo, ab, 2.0)
    assert _hasler(strong) > _hasler(weak)
    # the cached prediction is the caller's: moving the slider back gives the same picture
    # (a photo no larger than the render size has ab at full size, handed over as a view)
    kept = ab.copy()
    np.testing.assert_array_equal(compose(photo, ab, 0.5), weak)
    np.testing.assert_array_equal(ab, kept)
    with pytest.raises(SettingsError):
        compose(photo, ab, 2.5)


def test_colour_input_uses_its_luminance(tiny_generator):
    rgb_in = smooth_photo(150, 200, color=True)
    runner = FAST.make_runner(tiny_generator)
    out = colorize(rgb_in, runner, FAST.with_(strength=0.0))
    np.testing.assert_allclose(rgb_to_lab(out)[..., 0], luminance(rgb_in), atol=0.6)


def test_render_luminance_is_what_the_network_sees(tiny_generator):
    photo = smooth_photo(1000, 600)
    seen = []
    runner = FAST.make_runner(tiny_generator)

    def spy(batch):
        seen.append(batch.copy())
        return runner(batch)

    spy.batch_size = 8
    L = render_luminance(photo, 300)
    assert L.shape == (300, 180)
    predict_ab(photo, spy, FAST)
    np.testing.assert_allclose((seen[0][0, 0, :256, :180] + 1) * 50, L[:256], atol=1e-4)


def test_strip_upsampling_equals_whole_resize(rng):
    ab = rng.standard_normal((37, 53, 2)).astype(np.float32)
    whole = cv2.resize(ab, (530, 370), interpolation=cv2.INTER_CUBIC)
    for rows in (slice(0, 370), slice(0, 17), slice(100, 301), slice(360, 370)):
        np.testing.assert_allclose(upsample_rows(ab, rows, 370, 530), whole[rows], atol=1e-4)


def test_upsampled_colour_is_smooth_not_blocky(rng):
    ab = np.zeros((4, 4, 2), np.float32)
    ab[:, 2:] = 40.0
    up = upsample_rows(ab, slice(0, 400), 400, 400)
    steps = np.abs(np.diff(up[200, :, 0]))
    assert steps.max() < 5.0  # nearest-neighbour would jump by 40 in one pixel


def test_full_render_size(tiny_generator):
    photo = smooth_photo(300, 280)
    settings = FAST.with_(render_size=None)
    out = colorize(photo, settings.make_runner(tiny_generator), settings)
    assert out.shape == (300, 280, 3)


def test_rgb_colour_space_model(tmp_path):
    config = GeneratorConfig(ngf=4, num_downs=8, max_mult=4, out_channels=3)
    generator = load_generator(make_generator_file(tmp_path / "rgb.safetensors", config, "rgb"))
    runner = FAST.make_runner(generator)
    # the runner turns the network's RGB (tanh: [-1, 1]) into a, b in Lab units
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 256, 256)).astype(np.float32)
    with torch.no_grad():
        rgb = (generator.module(torch.from_numpy(x)).numpy() + 1.0) / 2.0
    expected = np.stack([rgb_to_lab(img.transpose(1, 2, 0))[..., 1:] for img in rgb])
    np.testing.assert_allclose(runner(x), expected.transpose(0, 3, 1, 2), atol=1e-3)
    # the photo keeps its own lightness; its colour is the prediction (within the gamut)
    photo = smooth_photo(100, 120)
    out = colorize(photo, runner, FAST)
    assert out.shape == (100, 120, 3) and out.dtype == np.uint8
    assert np.abs(luminance(out) - luminance(photo)).mean() < 0.5
    ab = predict_ab(photo, runner, FAST)
    chroma = rgb_to_lab(out)[..., 1:]
    assert np.hypot(ab[..., 0], ab[..., 1]).mean() > 3.0  # a coloured prediction ...
    assert np.abs(chroma - ab).mean() < 0.5  # ... is what the output shows


def test_progress_runs_over_tiles_then_merge(tiny_generator):
    seen = []
    progress = CallbackProgress(lambda d, t, m: seen.append((d, t)))
    colorize(smooth_photo(500, 700), FAST.make_runner(tiny_generator), FAST, progress)
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1]


def test_cancel_raises_cancelled(tiny_generator):
    progress = CallbackProgress()
    progress.cancel()
    with pytest.raises(Cancelled):
        colorize(smooth_photo(300, 300), FAST.make_runner(tiny_generator), FAST, progress)


def test_tile_must_fit_the_model_depth(tiny_generator):
    with pytest.raises(SettingsError, match="multiple of 256"):
        ColorizeSettings(tile=384, overlap=32).make_runner(tiny_generator)


@pytest.mark.parametrize(
    "kwargs", [{"strength": 3}, {"overlap": 200}, {"render_size": 4}, {"tile": 8}]
)
def test_bad_settings(kwargs):
    with pytest.raises(SettingsError):
        ColorizeSettings(**kwargs)


def test_cuda_request_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SettingsError, match="CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(SettingsError):
        resolve_device("tpu")


def test_unknown_precision_is_a_settings_error(tiny_generator):
    with pytest.raises(SettingsError, match="precision must be one of auto, fp32, fp16, bf16"):
        GeneratorRunner(tiny_generator, device="cpu", precision="fp8")


def test_runner_is_in_eval_mode(tiny_generator):
    tiny_generator.module.train()
    runner = GeneratorRunner(tiny_generator, device="cpu")
    assert not runner.module.training


def test_oom_halves_the_batch_then_falls_back_to_cpu(tiny_generator, monkeypatch, caplog):
    runner = GeneratorRunner(tiny_generator, device="cpu", batch_size=4)
    runner.device = torch.device("cuda")  # pretend; _place is stubbed below
    monkeypatch.setattr(runner, "_place", lambda: None)
    real_forward = GeneratorRunner._forward
    sizes = []

    def forward(self, chunk, *rest):
        sizes.append((self.device.type, len(chunk)))
        if self.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(self, chunk, *rest)

    monkeypatch.setattr(GeneratorRunner, "_forward", forward)
    out = runner(np.zeros((4, 1, 256, 256), np.float32))
    assert out.shape == (4, 2, 256, 256)
    assert sizes[:3] == [("cuda", 4), ("cuda", 2), ("cuda", 1)]
    assert sizes[3:] == [("cpu", 1)] * 4
    assert "falling back to the CPU" in caplog.text


def test_oom_on_cpu_is_an_error_not_a_gray_image(tiny_generator, monkeypatch):
    runner = GeneratorRunner(tiny_generator, device="cpu", batch_size=1)

    def forward(self, chunk, *rest):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(GeneratorRunner, "_forward", forward)
    with pytest.raises(InferenceError, match="out of memory"):
        runner(np.zeros((1, 1, 256, 256), np.float32))


def test_nan_output_is_an_error(tiny_generator, monkeypatch):
    runner = GeneratorRunner(tiny_generator, device="cpu")
    monkeypatch.setattr(
        runner.module, "forward", lambda x: torch.full((len(x), 2, 256, 256), float("nan"))
    )
    with pytest.raises(InferenceError, match="NaN"):
        runner(np.zeros((1, 1, 256, 256), np.float32))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_close_to_fp32(tiny_generator, precision):
    photo = smooth_photo(256, 256)
    base = predict_ab(photo, GeneratorRunner(tiny_generator, device="cpu", precision="fp32"), FAST)
    low = predict_ab(
        photo, GeneratorRunner(tiny_generator, device="cpu", precision=precision), FAST
    )
    assert np.abs(base - low).mean() < 2.0


def test_channels_last_gives_the_same_result(tiny_generator):
    photo = smooth_photo(256, 300)
    exact = {"device": "cpu", "precision": "fp32"}
    a = predict_ab(photo, GeneratorRunner(tiny_generator, **exact), FAST)
    b = predict_ab(photo, GeneratorRunner(tiny_generator, **exact, channels_last=True), FAST)
    np.testing.assert_allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_fit_long_side(dtype):
    image = np.zeros((300, 500, 2), dtype)
    assert fit_long_side(image, 250).shape == (150, 250, 2)
    assert fit_long_side(image, 250).dtype == dtype
    assert fit_long_side(image, 500) is image  # fits: no copy, never upscaled
    assert fit_long_side(image, None) is image
    assert fit_long_side(np.zeros((1, 999), dtype), 100).shape == (1, 100)  # never 0 px


@pytest.mark.parametrize("precision, advice", [("fp32", "damaged"), ("bf16", "--precision fp32")])
def test_nan_from_the_network_gives_advice_that_fits(
    tiny_generator, monkeypatch, precision, advice
):
    runner = GeneratorRunner(tiny_generator, device="cpu", precision=precision, batch_size=1)
    monkeypatch.setattr(runner, "_decode", lambda x: torch.full((len(x), 2, 256, 256), np.nan))
    with pytest.raises(InferenceError, match=advice):
        runner(np.zeros((1, 1, 256, 256), np.float32))


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16: ``bf16_cpu(flag)``."""

    def pretend(native: bool) -> None:
        monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: native)

    return pretend


@pytest.mark.parametrize(
    "native, device, expected",
    [
        (True, "cpu", "bf16"),  # AVX-512 BF16 / AMX / Arm BF16
        (False, "cpu", "fp32"),  # bf16 would be emulated there: slower than fp32
        (True, "cuda", "fp32"),  # fp16 on CUDA is not measured yet: auto keeps fp32
        (False, "cuda", "fp32"),
    ],
)
def test_auto_precision_follows_the_hardware(bf16_cpu, native, device, expected):
    bf16_cpu(native)
    assert resolve_precision("auto", torch.device(device)) == expected
    for given in ("fp32", "bf16", "fp16"):  # a precision the user names is never changed
        assert resolve_precision(given, torch.device(device)) == given


def test_auto_is_the_default_and_the_label_shows_what_ran(tiny_generator, bf16_cpu):
    assert ColorizeSettings().precision == "auto"
    bf16_cpu(True)
    runner = ColorizeSettings().make_runner(tiny_generator)
    assert (runner.precision, runner.description) == ("bf16", "cpu (bf16)")
    bf16_cpu(False)
    runner = ColorizeSettings().make_runner(tiny_generator)
    assert (runner.precision, runner.description) == ("fp32", "cpu (fp32)")
    assert GeneratorRunner(tiny_generator, device="cpu", precision="fp16").description == (
        "cpu (fp16)"
    )


def test_auto_runs_in_bf16_on_a_bf16_cpu(tiny_generator, bf16_cpu, monkeypatch):
    """The autocast dtype really is the resolved one (the label is not just text)."""
    bf16_cpu(True)
    runner = GeneratorRunner(tiny_generator, device="cpu", batch_size=1)
    seen = []
    monkeypatch.setattr(
        runner, "_decode", lambda x: seen.append(torch.get_autocast_dtype("cpu")) or x[:, :1]
    )
    runner._forward(np.zeros((1, 1, 32, 32), np.float32), runner._decode)
    assert seen == [torch.bfloat16] and torch.is_autocast_enabled("cpu") is False


def test_auto_is_resolved_again_after_falling_back_to_the_cpu(tiny_generator, bf16_cpu):
    bf16_cpu(True)
    runner = GeneratorRunner(tiny_generator, device="cpu", batch_size=1)
    runner.device, runner.precision = torch.device("cuda"), "fp32"  # as auto on CUDA
    runner._place = lambda: None
    runner._shrink_after_oom()
    assert runner.description == "cpu (bf16)"


def test_native_bf16_detection_reads_the_cpu(monkeypatch):
    cpu_has_native_bf16.cache_clear()
    monkeypatch.setattr(device_module.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: frozenset({"fp", "asimd", "bf16"}))
    assert device_module.cpu_has_native_bf16() is True
    cpu_has_native_bf16.cache_clear()
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: frozenset({"fp", "asimd"}))
    assert device_module.cpu_has_native_bf16() is False
    cpu_has_native_bf16.cache_clear()
    monkeypatch.setattr(device_module.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert device_module.cpu_has_native_bf16() is True  # AMX (Sapphire Rapids and later)
    cpu_has_native_bf16.cache_clear()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert device_module.cpu_has_native_bf16() is False  # e.g. AVX2 or plain AVX-512
    cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(
    "shape, render",
    [
        ((1, 1), (1, 1)),
        ((3, 5000), (1, 384)),
        ((257, 513), (96, 192)),
        ((1200, 1700), (271, 384)),
        ((300, 200), (300, 200)),
        ((1200, 1600), (1200, 1600)),  # render "full": several strips, a short last block
    ],
)
def test_the_merge_equals_the_old_one_within_a_level(dtype, shape, render):
    """The cache-blocked merge (issue #17) against the merge it replaced
    (tests/merge_reference.py), gray and colour photos, strengths 1 and 1.6."""
    from tests.merge_reference import compose as old_compose

    rng = np.random.default_rng(sum(shape))
    top = np.iinfo(dtype).max
    ab = cv2.GaussianBlur(rng.uniform(-90, 90, (*render, 2)).astype(np.float32), (0, 0), 1.5)
    ab = ab.reshape(*render, 2)
    gray = (rng.random(shape) * top).astype(dtype)
    colour = (rng.random((*shape, 3)) * top).astype(dtype)
    for pixels in (gray, colour):
        for strength in (1.0, 1.6):
            new = compose(pixels, ab, strength).astype(np.int64)
            old = old_compose(pixels, ab, strength).astype(np.int64)
            # 16-bit: the old remap placed a,b to 1/32 px, so a bright saturated pixel moves
            # by a few 16-bit levels (a few hundredths of an 8-bit level)
            limit = 1 if dtype == np.uint8 or render == shape else 8
            assert np.abs(new - old).max() <= limit


def test_a_gray_photo_without_colour_stays_neutral_and_exact():
    """The 8-bit merge (OpenCV's conversion): every gray level with a,b = 0 comes back as
    itself, R = G = B."""
    gray = np.arange(256, dtype=np.uint8).reshape(1, 256)
    out = merge_l_ab(luminance(gray), np.zeros((1, 256, 2), np.float32), np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)


def test_compose_into_a_prepared_buffer_equals_a_new_output():
    """The output's memory is made ready on a spare core while the photo decodes
    (issue #17): composing into it gives the same pixels; a buffer of another size is not
    used; a wrong ``out`` is refused."""
    from colorizer_app.engine.pipeline import output_view, prepare_output

    rng = np.random.default_rng(3)
    ab = cv2.GaussianBlur(rng.uniform(-60, 60, (24, 32, 2)).astype(np.float32), (0, 0), 1.5)
    for dtype in (np.uint8, np.uint16):
        pixels = (rng.random((150, 200)) * np.iinfo(dtype).max).astype(dtype)
        buffer = prepare_output(150 * 200 * 3 * np.dtype(dtype).itemsize)
        out = output_view(buffer, pixels.shape, dtype)
        assert out is not None and out.shape == (150, 200, 3) and out.dtype == dtype
        assert compose(pixels, ab, 0.95, out=out) is out
        np.testing.assert_array_equal(out, compose(pixels, ab, 0.95))
        assert output_view(buffer, (150, 201), dtype) is None  # the header told another size
        assert output_view(None, pixels.shape, dtype) is None
    with pytest.raises(ValueError, match="C-contiguous"):
        compose(pixels, ab, out=np.zeros((150, 200, 3), np.uint8))  # 16-bit photo


def test_the_output_is_prepared_while_the_photo_decodes(tmp_path):
    """``read_for_colorizing``: the buffer fits the photo (8 and 16 bits); a photo above the
    pixel limit gets no buffer (nothing allocated from its header) and the usual error."""
    from PIL import Image

    from colorizer_app.engine.batch import read_for_colorizing
    from colorizer_app.engine.imageio import ImageTooLargeError, output_bytes
    from colorizer_app.engine.pipeline import output_view

    Image.fromarray(smooth_photo(60, 80)).save(tmp_path / "a.jpg")
    Image.fromarray(smooth_photo(60, 80).astype(np.uint16) * 257).save(tmp_path / "b.png")
    for name, dtype in (("a.jpg", np.uint8), ("b.png", np.uint16)):
        photo, buffer = read_for_colorizing(tmp_path / name)
        assert photo.pixels.dtype == dtype
        assert output_view(buffer, photo.pixels.shape, dtype) is not None
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    assert output_bytes(tmp_path / "c.jpg") is None
    assert output_bytes(tmp_path / "a.jpg", max_pixels=100) is None
    with pytest.raises(ImageTooLargeError):
        read_for_colorizing(tmp_path / "a.jpg", max_pixels=100)


def test_merge_writes_into_out_and_checks_it():
    L = np.full((5, 7), 50.0, np.float32)
    ab = np.zeros((5, 7, 2), np.float32)
    out = np.zeros((5, 7, 3), np.uint8)
    assert merge_l_ab(L, ab, np.uint8, out=out) is out
    assert (out == 119).all()  # L 50 gray is sRGB 119
    with pytest.raises(ValueError, match="C-contiguous"):
        merge_l_ab(L, ab, np.uint8, out=np.zeros((5, 7, 3), np.uint16))
    np.testing.assert_array_equal(merge_l_ab(L, ab * 0 + 20, ab_scale=0.0), out)


@pytest.mark.parametrize("width", [1, 7, 1000, 4242, 12248, 40000])
def test_merge_blocks_fit_the_cache_and_a_one_thread_product(width):
    from colorizer_app.engine.pipeline import merge_block_rows
    from models.color import BLOCK_PIXELS

    rows = merge_block_rows(width)
    assert rows >= 1
    assert rows == 1 or rows * width <= BLOCK_PIXELS
    assert rows == 1 or rows * (rows + 4) * 2 * width <= 2**18


def test_upsampled_blocks_tile_the_strip_exactly():
    from colorizer_app.engine.pipeline import upsampled_blocks

    rng = np.random.default_rng(3)
    ab = rng.uniform(-50, 50, (37, 53, 2)).astype(np.float32)
    rows = slice(101, 250)
    whole = upsample_rows(ab, rows, 400, 573)
    blocks = list(upsampled_blocks(ab, rows, 400, 573, 7))
    assert [b.start for b, _ in blocks] == list(range(101, 250, 7))
    assert blocks[-1][0].stop == 250
    np.testing.assert_allclose(np.concatenate([a for _, a in blocks]), whole, atol=1e-4)
    same = list(upsampled_blocks(ab, slice(0, 37), 37, 53, 10))  # no resize: views of ab
    assert all(np.shares_memory(a, ab) for _, a in same)


def test_a_bad_file_does_not_wait_for_its_output_buffer(tmp_path, monkeypatch):
    """A file whose header tells a size but whose data is broken is refused at once: the
    buffer being prepared for it on the spare core is told to stop, not waited for."""
    from PIL import Image

    from colorizer_app.engine import batch
    from colorizer_app.engine.imageio import output_bytes
    from colorizer_app.engine.pipeline import prepare_output
    from models.errors import ColorizerError

    stop = threading.Event()
    stop.set()
    assert prepare_output(8 << 21, stop) is None

    Image.fromarray(smooth_photo(60, 80)).save(tmp_path / "good.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "good.png").read_bytes()[:60])
    assert output_bytes(tmp_path / "cut.png") == 60 * 80 * 3  # the header is intact
    told = []

    def slow_prepare(nbytes, stop):  # stands in for touching a huge buffer
        told.append(stop.wait(timeout=30))
        return None

    monkeypatch.setattr(batch, "prepare_output", slow_prepare)
    with pytest.raises(ColorizerError):
        batch.read_for_colorizing(tmp_path / "cut.png")
    assert told == [True]
