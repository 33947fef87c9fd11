"""Colour hints: the hint file format, their way through render size and tiles, the CLI."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer_app.cli import main
from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.hints import Hint, HintFileError, load_hints, parse_hints, save_hints
from colorizer_app.engine.pipeline import ColorizeSettings, predict_ab
from colorizer_app.engine.suggest import suggest_colors, uncertainty
from models import hints as net_hints
from models import load_generator
from models.errors import SettingsError
from tests.conftest import make_generator_file, make_v3_file, smooth_photo

RED = "#c03020"


def hint_file(width=400, height=300, hints=None, **extra):
    data = {"format": "colorizer-hints", "version": 1, "width": width, "height": height}
    data["hints"] = hints if hints is not None else [{"x": 200, "y": 100, "color": RED}]
    data.update(extra)
    return data


# --- the file format -------------------------------------------------------------------


def test_a_valid_file_gives_hints_with_the_colours_a_and_b():
    hints, warnings = parse_hints(hint_file(), 400, 300)
    assert warnings == []
    (h,) = hints
    assert (h.x, h.y, h.radius) == (200, 100, None)
    assert h.a > 40 and h.b > 30  # a red: positive a and b
    assert Hint.from_rgb(0, 0, RED).a == pytest.approx(h.a)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": "something-else"}, "not a colour hint file"),
        ({"version": 2}, "version 2 is not supported"),
        ({"width": 0}, "positive"),
        ({"width": "wide"}, "finite number"),
        ({"hints": {"x": 1}}, "must be a list"),
        ({"hints": [{"x": float("nan"), "y": 1, "color": RED}]}, "hint 1: x must be a finite"),
        ({"hints": [{"x": 1, "y": 1, "color": "red"}]}, "not #rrggbb"),
        ({"hints": [{"x": 1, "y": 1, "color": RED, "radius": -3}]}, "radius"),
        ({"hints": ["here"]}, "must be an object"),
        ({"width": 300, "height": 300}, "another aspect ratio"),
    ],
)
def test_bad_files_are_refused_with_one_line(change, message):
    with pytest.raises(HintFileError, match=message) as err:
        parse_hints(
            hint_file(**change) if "format" not in change else {**hint_file(), **change},
            400,
            300,
            source="h.json",
        )
    assert "\n" not in str(err.value) and str(err.value).startswith("h.json: ")


def test_a_file_for_a_resized_copy_is_scaled_with_a_warning():
    hints, warnings = parse_hints(
        hint_file(200, 150, [{"x": 50, "y": 20, "color": RED, "radius": 2}]), 400, 300
    )
    assert (hints[0].x, hints[0].y, hints[0].radius) == (100, 40, 4)
    assert "scaled" in warnings[0]


def test_hints_outside_the_image_are_dropped_with_a_warning():
    hints, warnings = parse_hints(
        hint_file(hints=[{"x": 500, "y": 10, "color": RED}, {"x": 5, "y": 5, "color": RED}]),
        400,
        300,
    )
    assert len(hints) == 1 and "1 hint(s) outside the image" in warnings[0]


def test_unreadable_files(tmp_path):
    with pytest.raises(HintFileError, match="not found"):
        load_hints(tmp_path / "none.json", 4, 4)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(HintFileError, match="not valid JSON"):
        load_hints(deep, 4, 4)
    (tmp_path / "junk.json").write_bytes(b"\xff\xfe junk")
    with pytest.raises(HintFileError):
        load_hints(tmp_path / "junk.json", 4, 4)


def test_save_and_load_round_trip(tmp_path):
    given = [Hint.from_rgb(10.5, 20, RED, radius=3), Hint.from_rgb(1, 2, (20, 60, 200))]
    path = save_hints(tmp_path / "p.jpg.hints.json", given, 40, 30)
    back, _ = load_hints(path, 40, 30)
    assert back == given
    assert back[1].color == "#143cc8"
    made = Hint(1, 2, a=20.0, b=-30.0)  # from a,b alone: stored at a mid lightness
    (again,), _ = load_hints(save_hints(tmp_path / "m.json", [made], 40, 30), 40, 30)
    assert (again.a, again.b) == pytest.approx((20.0, -30.0), abs=1.0)
    assert hint_files.sidecar_path(tmp_path / "p.jpg") == path


# --- to the network's input ----------------------------------------------------------------


def test_rasterize_draws_patches_where_the_hints_are():
    maps = net_hints.rasterize(10, 12, [net_hints.PatchHint(2.5, 7.5, 55.0, -22.0, 3)])
    assert maps.shape == (10, 12, 3)
    ys, xs = np.nonzero(maps[..., 2])
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (1, 3, 6, 8)
    assert maps[2, 7, 0] == pytest.approx(55 / 110) and maps[2, 7, 1] == pytest.approx(-22 / 110)
    assert maps[0, 0].tolist() == [0, 0, 0]


def test_render_size_maps_positions_and_radius():
    (p,) = hint_files.to_render([Hint(200, 100, 1, 2, radius=8)], (300, 400), (75, 100))
    assert (p.y, p.x, p.size) == (25, 50, 4)
    (q,) = hint_files.to_render([Hint(0, 0, 1, 2)], (300, 400), (75, 100))
    assert q.size == hint_files.DEFAULT_PATCH
    (big,) = hint_files.to_render([Hint(0, 0, 1, 2, radius=500)], (300, 400), (75, 100))
    assert big.size == net_hints.MAX_PATCH


class HintEcho:
    """A stand-in runner whose colour is its hint input spread over 3x3 pixels: shows where
    the engine put each hint, and is fully convolutional with a radius of 1 pixel."""

    takes_hints = True
    batch_size = 3

    def __call__(self, batch):
        x = torch.from_numpy(batch)
        ab = x[:, 1:3] * x[:, 3:4] * 110.0
        return torch.nn.functional.avg_pool2d(ab, 3, stride=1, padding=1).numpy()


def test_a_hint_colours_its_place_and_nothing_far_away():
    """Where the engine puts a hint for the network (its own spreading off: see below)."""
    photo = smooth_photo(300, 400)
    settings = ColorizeSettings(render_size=100, tile=32, overlap=16, hint_spread=False)
    hint = Hint.from_rgb(200, 100, RED, radius=6)  # render (25, 50), a 3-px patch
    ab = predict_ab(photo, HintEcho(), settings, hints=[hint])
    assert ab.shape == (75, 100, 2)
    assert ab[25, 50, 0] == pytest.approx(hint.a, rel=0.2)
    assert np.abs(ab[:20]).max() == 0 and np.abs(ab[:, 60:]).max() == 0


def test_tiling_with_hints_equals_whole_image_inference():
    photo = smooth_photo(90, 130)
    hints = [Hint.from_rgb(x, y, RED, radius=2) for x, y in [(31, 30), (64, 33), (97, 60), (5, 88)]]
    whole = predict_ab(photo, HintEcho(), ColorizeSettings(render_size=None, tile=256), hints=hints)
    tiled = predict_ab(
        photo, HintEcho(), ColorizeSettings(render_size=None, tile=32, overlap=16), hints=hints
    )
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


@pytest.fixture
def v3_model(tmp_path):
    return make_v3_file(tmp_path / "v3.safetensors")


def test_a_hint_model_runs_with_and_without_hints(v3_model):
    generator = load_generator(v3_model)
    assert generator.info.takes_hints and generator.info.heads == ["regression", "distribution"]
    # fp32: this tiny random model's annealed mean is nearly flat, and in bf16 (precision auto
    # on a CPU with native bf16) the hint's small change rounds away
    settings = ColorizeSettings.for_model(
        generator.info, tile=64, overlap=16, render_size=None, precision="fp32"
    )
    runner = settings.make_runner(generator)
    assert (runner.decoder, runner.temperature) == ("annealed_mean", 0.38)
    photo = smooth_photo(70, 90)
    plain = predict_ab(photo, runner, settings)
    hinted = predict_ab(photo, runner, settings, hints=[Hint.from_rgb(40, 30, RED, radius=4)])
    assert plain.shape == hinted.shape == (70, 90, 2)
    assert not np.array_equal(plain, hinted)
    regression = settings.with_(decoder="regression").make_runner(generator)
    assert not np.array_equal(predict_ab(photo, regression, settings), plain)


def test_suggested_colours_and_uncertainty(v3_model):
    generator = load_generator(v3_model)
    settings = ColorizeSettings.for_model(generator.info, tile=64, overlap=16)
    runner = settings.make_runner(generator)
    photo = smooth_photo(70, 90)
    (first, second) = suggest_colors(photo, runner, settings, [(10, 10), (80.5, 60)], k=4)
    assert len(first) == 4
    probs = [s.probability for s in first]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    # the swatch is the colour at the point's own lightness
    from models.color import luminance, merge_l_ab

    L = luminance(photo)[10:11, 10:11]
    swatch = merge_l_ab(L, np.array([[[first[0].a, first[0].b]]], np.float32), np.uint8)
    assert tuple(swatch[0, 0]) == first[0].rgb
    with pytest.raises(SettingsError, match="outside"):
        suggest_colors(photo, runner, settings, [(90, 1)])
    u = uncertainty(photo, runner, settings)
    assert u.shape == (70, 90) and 0 <= u.min() and u.max() <= 1


def test_a_v2_model_has_no_suggestions_and_no_annealed_mean(tiny_generator):
    settings = ColorizeSettings(tile=256)
    runner = settings.make_runner(tiny_generator)
    assert runner.decoder == "regression" and not runner.takes_hints
    with pytest.raises(SettingsError, match="no colour distribution head"):
        suggest_colors(smooth_photo(20, 20), runner, settings, [(1, 1)])
    with pytest.raises(SettingsError, match="no colour distribution head"):
        settings.with_(decoder="annealed_mean").make_runner(tiny_generator)


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        Image.fromarray(smooth_photo(60, 80)).save(src / name)
    return src


def _report(path):
    with open(path, newline="") as handle:
        return {row["source"].split("/in/")[-1]: row for row in csv.DictReader(handle)}


def test_cli_hints_file_sidecars_and_hints_dir(tmp_path, photos, v3_model):
    (photos / "a.png.hints.json").write_text(
        json.dumps(
            hint_file(
                80,
                60,
                [
                    {"x": 10, "y": 10, "color": RED},
                    {"x": 40, "y": 30, "color": "#2040c0", "radius": 3},
                ],
            )
        )
    )
    hints_dir = tmp_path / "hints"
    (hints_dir / "sub").mkdir(parents=True)
    (hints_dir / "sub" / "c.png.hints.json").write_text(
        json.dumps(hint_file(80, 60, [{"x": 1, "y": 2, "color": RED}]))
    )
    out, report = tmp_path / "out", tmp_path / "r.csv"
    code = main(
        [
            "colorize",
            str(photos),
            "-o",
            str(out),
            "--recursive",
            "--model",
            str(v3_model),
            "--hints-dir",
            str(hints_dir),
            "--report",
            str(report),
            "-q",
        ]
    )
    assert code == 0
    rows = _report(report)
    assert set(rows) == {"a.png", "b.png", "sub/c.png"}  # sidecars are not inputs
    assert [rows[k]["hints"] for k in ("a.png", "b.png", "sub/c.png")] == ["2", "0", "1"]
    one = tmp_path / "one.json"
    one.write_text(json.dumps(hint_file(80, 60)))  # (200, 100) is outside 80x60: dropped
    code = main(
        [
            "colorize",
            str(photos / "b.png"),
            "-o",
            str(tmp_path / "o2"),
            "--model",
            str(v3_model),
            "--hints",
            str(one),
            "--report",
            str(report),
            "-q",
        ]
    )
    assert code == 0 and _report(report)["b.png"]["hints"] == "0"


def test_cli_hints_needs_one_input(tmp_path, photos, v3_model, capsys):
    code = main(
        [
            "colorize",
            str(photos),
            "-o",
            str(tmp_path / "o"),
            "--model",
            str(v3_model),
            "--hints",
            str(tmp_path / "x.json"),
        ]
    )
    assert code == 2 and "exactly one input" in capsys.readouterr().err


def test_cli_a_bad_hint_file_fails_only_its_photo(tmp_path, photos, v3_model):
    (photos / "a.png.hints.json").write_text(json.dumps(hint_file(80, 60, version=7)))
    report = tmp_path / "r.csv"
    code = main(
        [
            "colorize",
            str(photos),
            "-o",
            str(tmp_path / "o"),
            "--model",
            str(v3_model),
            "--report",
            str(report),
            "-q",
        ]
    )
    rows = _report(report)
    assert code == 1
    assert rows["a.png"]["status"] == "failed" and "version 7" in rows["a.png"]["reason"]
    assert rows["b.png"]["status"] == "done"


def test_cli_hints_on_a_model_without_hint_input(tmp_path, photos, capsys):
    model = make_generator_file(tmp_path / "v2.safetensors")
    (photos / "a.png.hints.json").write_text(
        json.dumps(hint_file(80, 60, [{"x": 10, "y": 10, "color": RED}]))
    )
    report = tmp_path / "r.csv"
    code = main(
        [
            "colorize",
            str(photos / "a.png"),
            "-o",
            str(tmp_path / "o"),
            "--model",
            str(model),
            "--report",
            str(report),
            "-q",
        ]
    )
    assert code == 0
    assert _report(report)["a.png"]["hints"] == "0"
    assert "takes no colour hints" in capsys.readouterr().err


# --- hints spread after the network (engine.spread) -----------------------------------------


def test_a_hint_reaches_its_surface_and_stops_at_an_edge():
    """The hint's remaining difference spreads over what has its lightness nearby and not
    across a strong edge; the patch ends at the hint's colour; no hints, no change."""
    from colorizer_app.engine.spread import spread_hints

    L = np.full((120, 160), 30.0, np.float32)
    L[:, 80:] = 80.0  # a strong edge down the middle
    ab = np.zeros((120, 160, 2), np.float32)
    ab[..., 1] = 5.0
    hint = net_hints.PatchHint(60.5, 40.5, 40.0, -20.0, 5)
    out = spread_hints(ab, L, [hint])
    assert out is not ab and (ab[..., 0] == 0).all()  # the input is left alone
    patch = out[58:63, 38:43].reshape(-1, 2).mean(axis=0)
    assert patch == pytest.approx([40.0, -20.0], abs=2.0)
    assert out[60, 75, 0] > 30  # the same surface, 35 px away
    assert abs(out[60, 85, 0]) < 2 and out[60, 85, 1] == pytest.approx(5.0, abs=1.0)  # across
    np.testing.assert_array_equal(spread_hints(ab, L, []), ab)


def test_a_hint_does_not_reach_a_surface_of_its_lightness_beyond_an_edge():
    """A dark region cut off from the hinted dark region by a bright band keeps its colour,
    though its lightness is the same and it is near (the first, bilateral-grid spread coloured
    it: a red hint on a blouse reddened dark bushes across the photo)."""
    from colorizer_app.engine.spread import spread_hints

    L = np.full((120, 160), 30.0, np.float32)
    L[:, 70:90] = 80.0  # a bright band between two dark regions
    ab = np.zeros((120, 160, 2), np.float32)
    out = spread_hints(ab, L, [net_hints.PatchHint(60.5, 50.5, 40.0, -20.0, 5)])
    assert out[60, 65, 0] > 30  # its own region, up to the band
    assert np.abs(out[:, 100:]).max() < 2  # the other dark region


def test_one_hint_fades_with_distance_and_two_hints_each_keep_their_colour():
    """On one large flat surface a single hint colours its surroundings and fades far away
    (it does not wash over the whole photo); two hints blend between them and each patch
    ends at its own colour."""
    from colorizer_app.engine.spread import spread_hints

    L = np.full((200, 400), 50.0, np.float32)
    ab = np.zeros((200, 400, 2), np.float32)
    one = spread_hints(ab, L, [net_hints.PatchHint(100.5, 20.5, 30.0, 0.0, 3)])
    assert one[100, 30, 0] > 25 and one[100, 390, 0] < 3
    assert np.all(np.diff(one[100, 20:, 0]) <= 1e-3)  # falls off monotonically
    red, blue = (
        net_hints.PatchHint(100.5, 100.5, 30.0, 0.0, 3),
        net_hints.PatchHint(100.5, 300.5, -30.0, 0.0, 3),
    )
    two = spread_hints(ab, L, [red, blue])
    assert two[100, 100, 0] == pytest.approx(30.0, abs=3)
    assert two[100, 300, 0] == pytest.approx(-30.0, abs=3)
    assert abs(two[100, 200, 0]) < 3  # halfway: their mean


def test_the_spread_works_on_large_render_sizes_and_is_off_on_request():
    """Above the working size the spread is computed smaller and resized; `hint_spread=False`
    leaves the network's answer alone, and without hints the setting changes nothing."""
    from colorizer_app.engine.spread import WORK_SIDE, spread_hints

    L = np.linspace(0, 100, 1200 * 1600, dtype=np.float32).reshape(1200, 1600)
    ab = np.zeros((1200, 1600, 2), np.float32)
    out = spread_hints(ab, L, [net_hints.PatchHint(600, 800, 30.0, 30.0, 9)])
    assert out.shape == ab.shape and max(L.shape) > WORK_SIDE
    assert out[600, 800, 0] == pytest.approx(30.0, abs=3.0)

    photo = smooth_photo(300, 400)
    hint = Hint.from_rgb(200, 100, RED, radius=6)
    on = ColorizeSettings(render_size=100, tile=32, overlap=16)
    off = on.with_(hint_spread=False)
    spread = predict_ab(photo, HintEcho(), on, hints=[hint])
    echo = predict_ab(photo, HintEcho(), off, hints=[hint])
    assert np.abs(echo[25, 56]).max() == 0 and np.abs(spread[25, 56]).max() > 1  # reached
    np.testing.assert_array_equal(
        predict_ab(photo, HintEcho(), on, hints=[]), predict_ab(photo, HintEcho(), off)
    )


def test_the_domain_filter_is_the_recursive_filter_written_out():
    """engine.spread.domain_filter against the domain transform's recursive filter written
    pixel by pixel (Gastal and Oliveira 2011): per pass, along x then y, a causal then an
    anti-causal first-order recursion whose feedback is a ** (1 + sigma_s / sigma_l |dL|)."""
    from colorizer_app.engine.spread import domain_filter

    rng = np.random.default_rng(5)
    h, w, iterations, sigma_s, sigma_l = 7, 11, 3, 6.0, 15.0
    L = (rng.random((h, w)) * 100).astype(np.float32)
    values = rng.random((h, w, 2)).astype(np.float32)
    want = values.astype(np.float64)
    for i in range(iterations):
        sigma = sigma_s * np.sqrt(3) * 2 ** (iterations - i - 1) / np.sqrt(4**iterations - 1)
        a = np.exp(-np.sqrt(2) / sigma)
        for y in range(h):  # along x
            f = [
                a ** (1 + sigma_s / sigma_l * abs(float(L[y, x]) - float(L[y, x - 1])))
                for x in range(1, w)
            ]
            for x in range(1, w):
                want[y, x] += f[x - 1] * (want[y, x - 1] - want[y, x])
            for x in range(w - 2, -1, -1):
                want[y, x] += f[x] * (want[y, x + 1] - want[y, x])
        for x in range(w):  # along y
            f = [
                a ** (1 + sigma_s / sigma_l * abs(float(L[y, x]) - float(L[y - 1, x])))
                for y in range(1, h)
            ]
            for y in range(1, h):
                want[y, x] += f[y - 1] * (want[y - 1, x] - want[y, x])
            for y in range(h - 2, -1, -1):
                want[y, x] += f[y] * (want[y + 1, x] - want[y, x])
    got = domain_filter(values, L, sigma_space=sigma_s, sigma_l=sigma_l, iterations=iterations)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.shares_memory(got, values)
