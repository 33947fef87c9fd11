import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from tests.conftest import smooth_photo
from trainer.config import TrainConfig
from trainer.data import (
    Cifar10Tar,
    ColorFolder,
    DataError,
    LabNpy,
    PairedFolders,
    SampleMaker,
    load_or_skip,
    open_source,
    split_indices,
)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def paired(tmp_path):
    root = tmp_path / "set"
    for i, ext in enumerate([".jpg", ".png", ".jpg"]):
        rgb = smooth_photo(60, 80, color=True, seed=i)
        _save(root / "color" / "sub" / f"img{i}{ext}", rgb)
        gray = np.asarray(Image.fromarray(rgb).convert("L"))
        _save(root / "gray" / "sub" / f"img{i}.png", gray)
    # gray at another resolution (same aspect): resized to its colour pair
    _save(root / "color" / "big.png", smooth_photo(60, 80, color=True, seed=9))
    _save(root / "gray" / "big.png", smooth_photo(120, 160, seed=9))
    # aspect ratio mismatch: rejected
    _save(root / "color" / "odd.png", smooth_photo(60, 80, color=True))
    _save(root / "gray" / "odd.png", smooth_photo(80, 60))
    # unmatched on both sides
    _save(root / "color" / "lonely.png", smooth_photo(30, 30, color=True))
    _save(root / "gray" / "orphan.png", smooth_photo(30, 30))
    return root


def test_paired_folders_match_by_relative_path_and_stem(paired):
    src = PairedFolders(paired / "color", paired / "gray")
    names = sorted(src.name(i) for i in range(len(src)))
    assert names == ["big.png", "sub/img0.jpg", "sub/img1.png", "sub/img2.jpg"]
    reasons = dict((p.split("/")[-1], why) for p, why in src.report.skipped)
    assert "aspect ratios differ" in reasons["odd.png"]
    assert reasons["lonely.png"] == "no gray file of this name"
    assert reasons["orphan.png"] == "no colour file of this name"
    big = src.load(names.index("big.png"))
    assert big.gray.shape == big.rgb.shape[:2] == (60, 80)


def test_what_is_left_out_is_said_by_reason_with_the_first_files(paired):
    (paired / "gray" / "sub" / "img1.png").write_bytes(b"not a png")  # its colour is fine
    src = PairedFolders(paired / "color", paired / "gray")
    reasons = dict((p.split("/")[-1], why) for p, why in src.report.skipped)
    assert reasons["img1.jpg" if "img1.jpg" in reasons else "img1.png"] == (
        "unreadable gray file (img1.png)"
    )
    groups = src.report.by_reason(shown=1)
    assert groups["aspect ratios differ"] == (1, ["odd.png"])
    line = src.report.summary()
    assert line.startswith("4 file(s) left out: ")
    assert "1 no gray file of this name (lonely.png)" in line
    assert "1 no colour file of this name (orphan.png)" in line
    assert "1 unreadable gray file (img1.png)" in line
    many = PairedFolders(paired / "color", paired / "gray").report
    many.skipped += [(f"x{i}.png", "no gray file of this name") for i in range(5)]
    assert "6 no gray file of this name (lonely.png, x0.png, x1.png, …)" in many.summary()


def test_no_pairs_is_a_clear_error(tmp_path):
    _save(tmp_path / "color" / "a.png", smooth_photo(20, 20, color=True))
    _save(tmp_path / "gray" / "b.png", smooth_photo(20, 20))
    with pytest.raises(DataError, match="no matching pairs"):
        PairedFolders(tmp_path / "color", tmp_path / "gray")


def test_colour_folder_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no images"):
        ColorFolder(tmp_path)
    _save(tmp_path / "a" / "x.jpg", smooth_photo(40, 50, color=True))
    (tmp_path / "notes.txt").write_text("ignored")
    src = ColorFolder(tmp_path)
    assert len(src) == 1 and src.load(0).gray is None


def test_unreadable_image_is_skipped_not_fatal(tmp_path):
    _save(tmp_path / "good.png", smooth_photo(40, 50, color=True))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    src = ColorFolder(tmp_path)
    results = [load_or_skip(src, i) for i in range(len(src))]
    assert sum(r is None for r in results) == 1


def _cifar_tar(path, per_split=(3, 2)):
    with tarfile.open(path, "w:gz") as tar:
        for split, count in zip(("train", "test"), per_split, strict=True):
            for i in range(count):
                buf = io.BytesIO()
                Image.fromarray(smooth_photo(32, 32, color=True, seed=i)).save(buf, "JPEG")
                info = tarfile.TarInfo(f"cifar10/{split}/cat/{i:04d}.jpg")
                info.size = len(buf.getvalue())
                tar.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def test_cifar10_tar(tmp_path):
    archive = _cifar_tar(tmp_path / "c.tar.gz")
    train, test = Cifar10Tar(archive, "train"), Cifar10Tar(archive, "test")
    assert (len(train), len(test)) == (3, 2)
    assert train.load(0).rgb.shape == (32, 32, 3)
    assert isinstance(open_source(TrainConfig(data=str(archive))), Cifar10Tar)
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(DataError, match="unreadable"):
        Cifar10Tar(tmp_path / "broken.tar.gz")


def test_lab_npy_arrays(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "l").mkdir()
    (tmp_path / "ab").mkdir()
    np.save(tmp_path / "l" / "gray_scale.npy", rng.integers(0, 256, (5, 16, 16), dtype=np.uint8))
    np.save(tmp_path / "ab" / "ab1.npy", np.full((3, 16, 16, 2), 128, np.uint8))
    np.save(tmp_path / "ab" / "ab2.npy", np.full((2, 16, 16, 2), 128, np.uint8))
    src = open_source(TrainConfig(data=str(tmp_path)))
    assert isinstance(src, LabNpy) and len(src) == 5
    rgb = src.load(4).rgb
    assert rgb.shape == (16, 16, 3)
    # ab = 128 - 128 = 0: gray pixels
    assert np.abs(rgb.astype(int) - rgb[..., :1]).max() <= 1
    np.save(tmp_path / "ab" / "ab2.npy", np.full((1, 16, 16, 2), 128, np.uint8))
    with pytest.raises(DataError, match="holds 5 images"):
        LabNpy(tmp_path)


def test_auto_detects_paired_layout(paired):
    assert isinstance(open_source(TrainConfig(data=str(paired))), PairedFolders)


def test_split_is_by_file_and_deterministic():
    train, val = split_indices(100, 0.1, seed=3)
    assert len(val) == 10 and not set(train) & set(val)
    assert (split_indices(100, 0.1, seed=3)[1] == val).all()
    assert split_indices(1, 0.1, 0) == (np.array([0]), np.array([0]))


def test_augmentation_is_deterministic_per_seed_epoch_index():
    from trainer.data import Loaded

    loaded = Loaded(smooth_photo(90, 120, color=True))
    maker = SampleMaker(64, "lab", seed=1)
    a, b = maker.train(loaded, 5, 0), maker.train(loaded, 5, 0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = maker.train(loaded, 5, 1)
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (1, 64, 64) and a[1].shape == (2, 64, 64)
    assert -1 <= a[0].min() and a[0].max() <= 1


def test_small_images_are_upscaled_to_the_crop():
    from trainer.data import Loaded

    maker = SampleMaker(64, "rgb", seed=0)
    gray, target = maker.train(Loaded(smooth_photo(20, 30, color=True)), 0, 0)
    assert gray.shape == (1, 64, 64) and target.shape == (3, 64, 64)
    v_gray, v_target = maker.validation(Loaded(smooth_photo(20, 30, color=True)))
    assert v_gray.shape == (1, 64, 64)


def test_paired_sample_uses_the_users_gray(paired):
    src = PairedFolders(paired / "color", paired / "gray")
    loaded = src.load(0)
    loaded.gray = np.zeros_like(loaded.gray)  # a black "gray" version
    gray, _ = SampleMaker(32, "lab").validation(loaded)
    assert np.allclose(gray, -1.0)  # L = 0 -> -1


def test_hint_samples_carry_the_truths_colour_where_the_mask_is():
    from trainer.data import Loaded, SampleMaker

    loaded = Loaded(smooth_photo(80, 100, color=True, seed=3))
    maker = SampleMaker(32, "lab", hints=True, seed=1)
    found = 0
    for index in range(12):
        x, target = maker.train(loaded, index, epoch=0)
        assert x.shape == (4, 32, 32) and target.shape == (2, 32, 32)
        mask = x[3] > 0
        found += int(mask.any())
        if mask.any():  # each patch holds the truth's mean over it: close to the truth there
            assert np.abs(x[1:3][:, mask] - target[:, mask]).mean() < 0.05
    assert 2 <= found <= 11  # about half the samples have hints, some have none
    val, _ = maker.validation(loaded)
    assert val.shape == (4, 32, 32) and not val[1:].any()  # validation: automatic


def test_hints_per_crop_sets_how_many_hints_a_crop_gets():
    """``--hints-per-crop 1``: a crop with hints has exactly one (a patch of at most 9x9);
    the default (8, the paper's) often gives more."""
    from trainer.data import Loaded, SampleMaker

    loaded = Loaded(smooth_photo(200, 240, color=True, seed=3))
    marked = {}
    for mean in (1.0, 8.0):
        maker = SampleMaker(96, "lab", hints=True, hints_per_crop=mean, seed=2)
        marked[mean] = [int((maker.train(loaded, i, 0)[0][3] > 0).sum()) for i in range(40)]
    assert max(marked[1.0]) <= 81 and max(marked[1.0]) > 0
    assert max(marked[8.0]) > 81


def test_ageing_changes_the_input_only_and_is_reproducible():
    from trainer import degrade
    from trainer.data import Loaded, SampleMaker

    loaded = Loaded(smooth_photo(80, 100, color=True, seed=3))
    clean = SampleMaker(32, "lab", seed=1)
    aged = SampleMaker(32, "lab", seed=1, degrade=1.0)
    changed = 0
    for index in range(6):
        (x0, t0), (x1, t1) = clean.train(loaded, index, 0), aged.train(loaded, index, 0)
        np.testing.assert_array_equal(t0, t1)  # the colour target stays the truth
        assert x1.min() >= -1 and x1.max() <= 1
        changed += int(not np.array_equal(x0, x1))
        np.testing.assert_array_equal(x1, aged.train(loaded, index, 0)[0])
    assert changed >= 4
    L = np.full((40, 40), 50.0, np.float32)
    for step, _ in degrade.STEPS:  # every step keeps the shape and stays near [0, 100]
        out = step(L, np.random.default_rng(0))
        assert out.shape == L.shape and np.isfinite(out).all()


def test_several_folders_are_one_source(tmp_path):
    from trainer.data import open_source

    for name, count in (("a", 3), ("b", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(smooth_photo(20, 30, color=True, seed=i)).save(
                tmp_path / name / f"{i}.png"
            )
    import os

    cfg = TrainConfig(data=f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}", steps=1)
    source = open_source(cfg)
    assert len(source) == 5 and source.name(4) == "1.png"
    assert source.load(3).rgb.shape == (20, 30, 3)
