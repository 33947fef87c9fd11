import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models import (
    GeneratorConfig,
    ModelFileError,
    ModelInfo,
    UNetGenerator,
    load_generator,
    save_generator,
)
from models.modelfile import FORMAT, default_model_path, read_info
from tests import hostile
from tests.conftest import TINY, make_generator_file
from tests.hostile import rewrite_metadata


def _run(module, x):
    with torch.no_grad():
        return module.eval()(x)


def test_round_trip_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, num_downs=6, upsample="resize_conv")
    module = UNetGenerator(config).eval()
    info = ModelInfo(
        config, training={"steps": 12, "recipe": "gan+l1"}, metrics={"psnr": 23.5}, name="unit"
    )
    path = save_generator(tmp_path / "g.safetensors", module, info)
    loaded = load_generator(path)
    assert loaded.info == info
    assert not loaded.module.training
    x = torch.randn(2, 1, 64, 64)
    torch.testing.assert_close(_run(loaded.module, x), _run(module, x))


def test_half_precision_file_is_smaller_and_close(tmp_path):
    module = UNetGenerator(TINY).eval()
    f32 = save_generator(tmp_path / "a.safetensors", module, ModelInfo(TINY))
    f16 = save_generator(tmp_path / "b.safetensors", module, ModelInfo(TINY), dtype=torch.float16)
    assert f16.stat().st_size < 0.6 * f32.stat().st_size
    x = torch.randn(1, 1, 256, 256)
    out32 = _run(load_generator(f32).module, x)
    out16 = _run(load_generator(f16).module, x)
    assert load_generator(f16).module.down[0][0].weight.dtype == torch.float32
    assert (out32 - out16).abs().max() < 2e-2


def test_save_is_atomic(tmp_path, monkeypatch):
    target = make_generator_file(tmp_path / "m.safetensors")
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("models.modelfile.save_file", boom)
    with pytest.raises(OSError):
        save_generator(target, UNetGenerator(TINY), ModelInfo(TINY))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_generator(tmp_path / "nope.safetensors")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ModelFileError, match="folder"):
        load_generator(tmp_path)


@pytest.mark.parametrize("keep", [0, 7, 40, 0.5, 0.99])
def test_truncated_file(tmp_path, keep):
    data = make_generator_file(tmp_path / "m.safetensors").read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match="truncated|not a model"):
        load_generator(bad)


def test_pickle_checkpoint_is_refused_without_unpickling(tmp_path):
    class Trap:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    bad = tmp_path / "evil.pth"
    torch.save({"state": Trap()}, bad)
    with pytest.raises(ModelFileError, match="not a model"):
        load_generator(bad)


def test_foreign_safetensors_file(tmp_path):
    bad = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, bad, metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="not a colorizer generator"):
        load_generator(bad)


def test_text_file_with_model_extension(tmp_path):
    bad = tmp_path / "notes.safetensors"
    bad.write_text("hello, this is not a model\n" * 10)
    with pytest.raises(ModelFileError):
        load_generator(bad)


def test_wrong_architecture_is_refused(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    bad = rewrite_metadata(src, tmp_path / "bad.safetensors", architecture={"ngf": 8})
    with pytest.raises(ModelFileError, match="shape|do not match"):
        load_generator(bad)


def test_newer_format_version_is_refused(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    bad = rewrite_metadata(src, tmp_path / "new.safetensors", format_version=99)
    with pytest.raises(ModelFileError, match="newer"):
        read_info(bad)


def test_other_normalisation_is_refused(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    bad = rewrite_metadata(src, tmp_path / "n.safetensors", normalization={"L": "x/100"})
    with pytest.raises(ModelFileError, match="normalisation"):
        read_info(bad)


def test_lab_generator_needs_two_outputs(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    bad = rewrite_metadata(src, tmp_path / "rgb.safetensors", color_space="rgb")
    with pytest.raises(ModelFileError, match="3 output"):
        read_info(bad)


def test_nan_weights_are_refused(tmp_path):
    module = UNetGenerator(TINY)
    with torch.no_grad():
        module.down[0][0].weight[0, 0, 0, 0] = float("nan")
    path = save_generator(tmp_path / "nan.safetensors", module, ModelInfo(TINY))
    with pytest.raises(ModelFileError, match="NaN"):
        load_generator(path)


def test_metadata_is_plain_json(tmp_path):
    path = make_generator_file(tmp_path / "m.safetensors")
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(data[8 : 8 + n])["__metadata__"]
    assert meta["format"] == FORMAT
    description = json.loads(meta["colorizer"])
    assert description["architecture"]["type"] == "unet"
    assert description["color_space"] == "lab"
    assert set(description) >= {"normalization", "training", "metrics", "format_version"}


def test_default_model_path_is_the_shipped_file_and_none_without_it(monkeypatch):
    import models

    # the repository ships the default model inside the package (package data, git-tracked)
    shipped = Path(models.__file__).parent / "weights" / "default.safetensors"
    assert shipped.is_file()
    path = default_model_path()
    assert path is not None and path.resolve() == shipped.resolve()
    loaded = load_generator(path)
    assert loaded.info.color_space == "lab" and loaded.info.name
    assert loaded.info.training.get("steps", 0) > 0  # a trained model, not random weights
    side = loaded.info.config.multiple
    channels = loaded.info.config.input_channels  # L, and the hint channels of a v3 model
    y = _run(loaded.module, torch.zeros(1, channels, side, side))
    assert y.shape == (1, 2, side, side) and y.abs().max() <= 1.0
    # a build without the file gets None (the CLI and the app then ask for a model file)
    monkeypatch.setattr("models.modelfile.DEFAULT_MODEL", "absent.safetensors")
    assert default_model_path() is None


def test_rgb_generator_round_trip(tmp_path):
    config = GeneratorConfig(ngf=4, num_downs=3, out_channels=3)
    path = save_generator(
        tmp_path / "rgb.safetensors", UNetGenerator(config), ModelInfo(config, color_space="rgb")
    )
    loaded = load_generator(path)
    assert loaded.info.color_space == "rgb"
    assert np.isfinite(_run(loaded.module, torch.zeros(1, 1, 8, 8)).numpy()).all()


def test_recommended_settings_round_trip_and_odd_values_are_ignored(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from models.modelfile import read_info
    from tests.conftest import make_generator_file

    good = make_generator_file(
        tmp_path / "a.safetensors", recommended={"render_size": 384, "strength": 1.35}
    )
    assert read_info(good).recommended == {"render_size": 384, "strength": 1.35}
    full = make_generator_file(tmp_path / "b.safetensors", recommended={"render_size": None})
    assert read_info(full).recommended == {"render_size": None}
    # a file from elsewhere with nonsense in the block: the model loads, the block is ignored
    with safe_open(str(good), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        meta = handle.metadata()
    description = json.loads(meta["colorizer"])
    description["recommended"] = {"render_size": 3, "strength": "lots", "tile": 512}
    odd = tmp_path / "odd.safetensors"
    save_file(tensors, str(odd), metadata={**meta, "colorizer": json.dumps(description)})
    assert read_info(odd).recommended == {}


def test_v3_file_records_heads_bins_and_hints(tmp_path):
    from tests.conftest import make_v3_file

    path = make_v3_file(tmp_path / "v3.safetensors")
    loaded = load_generator(path)
    assert loaded.info.heads == ["regression", "distribution"]
    assert loaded.info.config.hint_channels == 3 and loaded.info.config.bin_grid == 10
    assert loaded.module.ab_bins.shape == (261, 2)
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["colorizer"])
    assert meta["heads"] == ["regression", "distribution"] and meta["hint_channels"] == 3
    assert meta["recommended"] == {"decoder": "annealed_mean", "temperature": 0.38}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"heads": ["regression"]}, "lists heads"),
        ({"hint_channels": 0}, "hint channels"),
        ({"architecture": {"hint_channels": 5}}, "hint_channels must be 0 or 3"),
        ({"architecture": {"num_bins": 300}}, "shape|do not match"),
        ({"architecture": {"hint_channels": 0}}, "hint channels|shape"),
    ],
)
def test_a_v3_file_that_contradicts_itself_is_refused(tmp_path, change, message):
    from tests.conftest import make_v3_file

    src = make_v3_file(tmp_path / "v3.safetensors")
    bad = rewrite_metadata(src, tmp_path / "bad.safetensors", **change)
    with pytest.raises(ModelFileError, match=message):
        load_generator(bad)


def test_a_v3_file_with_a_broken_prior_is_refused(tmp_path):
    from tests.conftest import TINY_V3

    module = UNetGenerator(TINY_V3)
    module.ab_bins.copy_(torch.arange(522, dtype=torch.float32).reshape(261, 2) % 100)
    module.ab_prior.fill_(0.5)
    path = save_generator(tmp_path / "p.safetensors", module, ModelInfo(TINY_V3))
    with pytest.raises(ModelFileError, match="prior|bins"):
        load_generator(path)


def test_v2_files_without_the_new_fields_still_load(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    drop = ["heads", "hint_channels"] + [
        f"architecture.{k}" for k in ("hint_channels", "num_bins", "bin_grid")
    ]
    old = rewrite_metadata(src, tmp_path / "old.safetensors", drop=drop)
    info = load_generator(old).info
    assert not info.takes_hints and info.heads == ["regression"]


def test_model_files_get_the_users_normal_permissions(tmp_path):
    import os

    from models.atomic import default_mode

    path = make_generator_file(tmp_path / "m.safetensors")
    assert os.stat(path).st_mode & 0o777 == default_mode()
    assert default_mode() & 0o600 == 0o600


@pytest.fixture
def real_builds(monkeypatch):
    import models.modelfile

    return hostile.record_real_builds(monkeypatch, models.modelfile)


@pytest.mark.parametrize(
    ("make", "message"), [c[1:] for c in hostile.CASES], ids=[c[0] for c in hostile.CASES]
)
def test_a_hostile_file_is_one_line_before_anything_is_built(tmp_path, real_builds, make, message):
    """Hostile metadata or tensors: a one-line ModelFileError naming the file, from the
    description and the header alone; the network it describes is never built (ngf 2**20
    would be a terabyte) and no weight is read."""
    bad = make(make_generator_file(tmp_path / "good.safetensors"), tmp_path / "bad.safetensors")
    for reader in (read_info, load_generator):
        with pytest.raises(ModelFileError, match=message) as caught:
            reader(bad)
        text = str(caught.value)
        assert text.startswith(f"{bad}: ") and "\n" not in text and len(text) < 400
    assert real_builds == []


def test_the_good_file_the_hostile_ones_come_from_loads(tmp_path, real_builds):
    good = make_generator_file(tmp_path / "good.safetensors")
    assert load_generator(good).info.config == TINY and real_builds == [TINY]
    same = hostile.rewrite_description(good, tmp_path / "same.safetensors", json.dumps)
    assert load_generator(same).info == load_generator(good).info


def test_bfloat16_weights_load_as_float32(tmp_path):
    module = UNetGenerator(TINY).eval()
    path = save_generator(
        tmp_path / "bf.safetensors", module, ModelInfo(TINY), dtype=torch.bfloat16
    )
    loaded = load_generator(path).module
    assert loaded.down[0][0].weight.dtype == torch.float32
    torch.testing.assert_close(
        loaded.down[0][0].weight, module.down[0][0].weight.bfloat16().float()
    )


def test_informational_blocks_may_be_absent_or_hold_more_than_the_app_reads(tmp_path):
    src = make_generator_file(tmp_path / "m.safetensors")
    extra = {"steps": 3, "epochs": 1, "notes": {"any": ["thing", 1.5, None]}, "stages": []}
    rich = rewrite_metadata(src, tmp_path / "rich.safetensors", training=extra, metrics=None)
    info = read_info(rich)
    assert info.training == extra and info.metrics == {}
    bare = rewrite_metadata(src, tmp_path / "bare.safetensors", drop=["training", "metrics"])
    assert read_info(bare).training == {} and read_info(bare).name == "tiny"


def test_a_header_nested_100k_deep_is_one_line(tmp_path):
    """The safetensors header itself (not the description inside it) nested 100k deep."""
    deep = b'{"__metadata__": {"format": "colorizer-generator"}, "w": ' + hostile.DEEP.encode()
    bad = tmp_path / "deep.safetensors"
    bad.write_bytes(struct.pack("<Q", len(deep) + 1) + deep + b"}")
    for reader in (read_info, load_generator):
        with pytest.raises(ModelFileError, match="not a model file or truncated") as caught:
            reader(bad)
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_restating_a_shipped_file_keeps_its_weights_and_history(tmp_path):
    """scripts/ship_model.py --restate: new recommended settings and evaluations, the same
    weights (as float16), the training record kept with why it was restated."""
    import importlib.util

    from tests.conftest import make_generator_file

    spec = importlib.util.spec_from_file_location(
        "ship_model", Path(__file__).parents[1] / "scripts" / "ship_model.py"
    )
    ship_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship_model)
    old = make_generator_file(tmp_path / "old.safetensors", recommended={"render_size": 384})
    (tmp_path / "k.json").write_text(json.dumps({"psnr_gain": 1.0}))
    out = tmp_path / "new.safetensors"
    args = ["--restate", str(old), "--strength", "1.1", "--out", str(out), "--why", "engine"]
    assert ship_model.main([*args, "--evaluation", "kodak24", str(tmp_path / "k.json")]) == 0
    before, after = load_generator(old), load_generator(out)
    assert after.info.recommended == {"render_size": 384, "strength": 1.1}
    assert after.info.name == before.info.name
    assert after.info.metrics["evaluation"] == {"kodak24": {"psnr_gain": 1.0}}
    assert after.info.training["restated"] == [
        {"recommended_before": {"render_size": 384}, "why": "engine"}
    ]
    for key, value in before.module.state_dict().items():
        torch.testing.assert_close(after.module.state_dict()[key].float(), value.half().float())


def test_shipping_a_soup_of_several_files_weighs_each_and_records_them(tmp_path):
    """scripts/ship_model.py --average-with repeated: the last stage keeps 1 - the weights'
    sum, each file its weight, and the file records every model averaged in."""
    import importlib.util

    from tests.conftest import make_generator_file

    spec = importlib.util.spec_from_file_location(
        "ship_model", Path(__file__).parents[1] / "scripts" / "ship_model.py"
    )
    ship_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship_model)
    run = tmp_path / "arm-b"
    run.mkdir()
    recipe = {"recipe": "l1", "steps": 10, "epochs": 0.5, "wall_seconds": 3.0, "lr": 3e-4}
    recipe |= {"image_size": 256, "batch_size": 32, "lambda_l1": 100.0, "device": "cuda"}
    raw = make_generator_file(tmp_path / "raw.safetensors", seed=1)
    rewrite_metadata(raw, run / "generator.safetensors", training=recipe, metrics=None)
    arm_a = make_generator_file(tmp_path / "arm-a.safetensors", seed=2)
    start = make_generator_file(tmp_path / "start.safetensors", seed=3)
    out = tmp_path / "soup.safetensors"
    args = ["--name", "soup", "--stage", str(run), "cmd", "--out", str(out)]
    args += ["--average-with", str(arm_a), "0.25", "--average-with", str(start), "0.25"]
    assert ship_model.main(args) == 0
    parts = [load_generator(p).module.state_dict() for p in (raw, arm_a, start)]
    shipped = load_generator(out)
    for key, value in shipped.module.state_dict().items():
        if value.is_floating_point():
            want = 0.5 * parts[0][key].float() + 0.25 * (parts[1][key] + parts[2][key]).float()
            torch.testing.assert_close(value.float(), want.half().float(), atol=2e-3, rtol=2e-3)
    record = shipped.info.training["averaged_with"]
    assert record["last_stage_weight"] == 0.5
    assert [m["weight"] for m in record["models"]] == [0.25, 0.25]
    assert shipped.info.training["stages"][-1]["run"] == "arm-b"
    for weights in (("0.6", "0.5"), ("0.5", "0.5"), ("0.7", "-0.2")):
        wrong = [*args[:-6], "--average-with", str(arm_a), weights[0]]
        wrong += ["--average-with", str(start), weights[1]]
        with pytest.raises(SystemExit, match="each weight must be between 0 and 1"):
            ship_model.main(wrong)
