"""Less common files, all generated here: oriented and deep TIFFs, CMYK, floating point,
several pages or frames, HEIF/AVIF from phones, and metadata too large for a JPEG marker."""

import io
import struct

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps, features

from colorizer_app.engine.imageio import read_image, write_image
from colorizer_app.engine.tiff import cmyk_to_rgb
from models.errors import ImageReadError, ImageWriteError, UnsupportedFormatError
from tests.conftest import smooth_photo

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
# Pillow's own table (ImageOps.exif_transpose): the reference our orientation must match.
PILLOW_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(stored: np.ndarray, orientation: int) -> np.ndarray:
    """``stored`` (any dtype, any channels) turned upright by Pillow's transposes, applied to
    an image of pixel indices."""
    h, w = stored.shape[:2]
    index = Image.fromarray(np.arange(h * w, dtype=np.int32).reshape(h, w))
    if orientation != 1:
        index = index.transpose(PILLOW_TRANSPOSE[orientation])
    order = np.asarray(index)
    return stored.reshape(h * w, *stored.shape[2:])[order]


def profile_of_space(space: bytes) -> bytes:
    """An ICC profile whose header says it describes ``space`` (b"GRAY", b"CMYK")."""
    return SRGB_ICC[:16] + space + SRGB_ICC[20:]


def large_icc(extra: int) -> bytes:
    """A valid sRGB profile grown by a private tag of ``extra`` bytes (LittleCMS loads it)."""
    count = struct.unpack(">I", SRGB_ICC[128:132])[0]
    entries = [struct.unpack(">4sII", SRGB_ICC[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    body = SRGB_ICC[132 + 12 * count :]
    data_at = 132 + 12 * (count + 1) + len(body)
    data_at += -data_at % 4
    payload = b"zzzz\0\0\0\0" + bytes(range(256)) * (extra // 256)
    table = [(sig, offset + 12, size) for sig, offset, size in entries]
    table.append((b"zzzz", data_at, len(payload)))
    profile = bytearray(SRGB_ICC[:128] + struct.pack(">I", count + 1))
    profile += b"".join(struct.pack(">4sII", *entry) for entry in table) + body
    profile += b"\0" * (data_at - len(profile)) + payload
    profile[0:4] = struct.pack(">I", len(profile))
    return bytes(profile)


# --- 6: TIFF orientation -------------------------------------------------------------------


def _write_oriented_tiff(path, stored, orientation, writer):
    if writer == "pillow":
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(stored).save(path, exif=exif)
    elif writer == "pillow-lzw":  # decoded by Pillow's libtiff path
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(stored).save(path, exif=exif, compression="tiff_lzw")
    else:
        tifffile.imwrite(
            path,
            stored,
            photometric="rgb" if stored.ndim == 3 else "minisblack",
            compression="lzw" if writer == "tifffile-lzw" else None,
            extratags=[(274, "H", 1, orientation, True)],
        )


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    "writer, dtype, channels",
    [
        ("pillow", np.uint8, 3),
        ("pillow-lzw", np.uint8, 3),
        ("pillow", np.uint16, 1),
        ("tifffile", np.uint8, 3),
        ("tifffile", np.uint16, 3),
        ("tifffile-lzw", np.uint16, 1),
    ],
)
def test_tiff_orientation_is_applied_once(tmp_path, orientation, writer, dtype, channels):
    """Pillow >= 11.2 turns 8-bit TIFFs upright itself; tifffile never does: either way the
    photo is upright once, at 8 and 16 bits (5-8 were refused or turned twice)."""
    stored = smooth_photo(30, 50, color=channels == 3, dtype=dtype)
    path = tmp_path / f"o{orientation}.tif"
    _write_oriented_tiff(path, stored, orientation, writer)
    photo = read_image(path)
    assert photo.pixels.dtype == dtype
    np.testing.assert_array_equal(photo.pixels, upright(stored, orientation))


# --- 7: metadata larger than a JPEG marker ---------------------------------------------------


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_an_icc_profile_over_64_kb_is_carried(tmp_path, ext):
    icc = large_icc(200_000)
    ImageCms.ImageCmsProfile(io.BytesIO(icc))  # a profile LittleCMS accepts
    out = tmp_path / f"big{ext}"
    rgb = smooth_photo(40, 60, color=True)
    assert write_image(out, rgb, icc_profile=icc) == []
    back = Image.open(out)
    assert back.info.get("icc_profile") == icc  # JPEG: split over APP2 markers, rejoined
    if ext == ".jpg":
        assert np.abs(np.asarray(back).astype(int) - rgb).mean() < 2  # quality 95, 4:4:4


def test_exif_over_64_kb_is_dropped_from_a_jpeg_with_a_note(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Kodak"
    exif.get_ifd(0x8769)[0x927C] = b"\x01" * 100_000  # a camera's maker note
    raw = exif.tobytes()[6:]
    out = tmp_path / "o.jpg"
    notes = write_image(out, smooth_photo(40, 60, color=True), exif=raw, icc_profile=SRGB_ICC)
    assert notes == ["EXIF of 97 KB dropped: a JPEG holds at most 64 KB"]
    back = Image.open(out)
    assert back.info.get("icc_profile") == SRGB_ICC and not back.getexif()
    write_image(tmp_path / "o.png", smooth_photo(40, 60, color=True), exif=raw)  # PNG holds it
    assert Image.open(tmp_path / "o.png").getexif()[0x010F] == "Kodak"


def test_metadata_an_encoder_refuses_is_dropped_not_the_photo(tmp_path, monkeypatch):
    from colorizer_app.engine import encode

    real = encode._opencv

    def picky(fmt, rgb, alpha, exif, icc):
        return None if exif or icc else real(fmt, rgb, alpha, exif, icc)

    monkeypatch.setattr(encode, "_opencv", picky)
    out = tmp_path / "o.webp"
    notes = write_image(out, smooth_photo(20, 30, color=True), icc_profile=SRGB_ICC)
    assert notes == ["the WEBP encoder refused the EXIF and colour profile: dropped"]
    assert read_image(out).pixels.shape == (20, 30, 3)


def test_an_encoder_failure_names_the_output_not_the_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr("colorizer_app.engine.encode._opencv", lambda *args: None)
    out = tmp_path / "o.jpg"
    with pytest.raises(ImageWriteError) as caught:
        write_image(out, np.zeros((4, 4, 3), np.uint8))
    assert str(caught.value) == f"{out}: the JPEG encoder failed"
    assert list(tmp_path.iterdir()) == []  # no temporary file left


# --- 8: CMYK, gray profiles, gray + alpha -----------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_cmyk_tiff_becomes_rgb_never_rgba(tmp_path, dtype):
    cmyk = np.stack([smooth_photo(30, 40, dtype=dtype, seed=s) for s in range(4)], axis=2)
    path = tmp_path / "cmyk.tif"
    tifffile.imwrite(path, cmyk, photometric="separated", iccprofile=profile_of_space(b"CMYK"))
    photo = read_image(path)
    assert photo.alpha is None and photo.pixels.shape == (30, 40, 3)
    assert photo.pixels.dtype == dtype
    assert photo.icc_profile is None  # a CMYK profile does not describe the RGB pixels
    assert photo.notes == ["CMYK converted to RGB; its CMYK colour profile dropped"]
    ink = cmyk.astype(float) / np.iinfo(dtype).max
    expected = (1 - ink[..., :3]) * (1 - ink[..., 3:]) * np.iinfo(dtype).max
    assert np.abs(photo.pixels - expected).max() <= 0.5 + 1e-9  # R = (1 - C)(1 - K), rounded
    out = tmp_path / "out.tif"
    write_image(out, photo.pixels, alpha=photo.alpha, icc_profile=photo.icc_profile)
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].shape == (30, 40, 3)  # RGB, no K channel as alpha


def test_cmyk_with_alpha_keeps_the_alpha(tmp_path):
    cmyka = np.stack([smooth_photo(20, 30, dtype=np.uint16, seed=s) for s in range(5)], axis=2)
    tifffile.imwrite(
        tmp_path / "a.tif", cmyka, photometric="separated", extrasamples=("unassalpha",)
    )
    photo = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(photo.pixels, cmyk_to_rgb(cmyka[..., :4]))
    np.testing.assert_array_equal(photo.alpha, cmyka[..., 4])
    assert photo.notes == ["CMYK converted to RGB"]


def test_cmyk_jpeg_drops_its_cmyk_profile(tmp_path):
    rgb = smooth_photo(30, 40, color=True)
    Image.fromarray(rgb).convert("CMYK").save(
        tmp_path / "c.jpg", icc_profile=profile_of_space(b"CMYK"), quality=95
    )
    photo = read_image(tmp_path / "c.jpg")
    assert photo.pixels.shape == (30, 40, 3) and photo.icc_profile is None
    assert photo.notes == ["CMYK converted to RGB; its CMYK colour profile dropped"]


def test_a_gray_profile_is_not_written_on_an_rgb_output(tmp_path):
    gray_icc = profile_of_space(b"GRAY")
    Image.fromarray(smooth_photo(30, 40)).save(tmp_path / "g.jpg", icc_profile=gray_icc)
    photo = read_image(tmp_path / "g.jpg")
    assert photo.is_gray and photo.icc_profile == gray_icc  # it describes the gray scan
    rgb = np.dstack([photo.pixels] * 3)
    for ext in (".jpg", ".png", ".tif", ".webp"):
        notes = write_image(tmp_path / f"o{ext}", rgb, icc_profile=photo.icc_profile)
        assert notes == ["gray colour profile dropped: it cannot describe an RGB output"]
        assert "icc_profile" not in Image.open(tmp_path / f"o{ext}").info
    assert write_image(tmp_path / "s.png", rgb, icc_profile=SRGB_ICC) == []  # RGB: kept


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("planar", [False, True])
def test_gray_plus_alpha_tiff(tmp_path, dtype, planar):
    gray, alpha = smooth_photo(30, 40, dtype=dtype), smooth_photo(30, 40, dtype=dtype, seed=1)
    stack = np.stack([gray, alpha], axis=0 if planar else 2)
    tifffile.imwrite(
        tmp_path / "la.tif",
        stack,
        photometric="minisblack",
        planarconfig="separate" if planar else "contig",
        extrasamples=("unassalpha",),
    )
    photo = read_image(tmp_path / "la.tif")
    np.testing.assert_array_equal(photo.pixels, gray)
    np.testing.assert_array_equal(photo.alpha, alpha)


def test_min_is_white_16bit_tiff_is_not_a_negative(tmp_path):
    gray = smooth_photo(30, 40, dtype=np.uint16)
    tifffile.imwrite(tmp_path / "w.tif", 65535 - gray, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "w.tif").pixels, gray)


# --- 10: floating point, GIF, HEIF, AVIF ------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("color", [False, True])
def test_floating_point_tiff_is_read_as_16bit(tmp_path, dtype, color):
    values = smooth_photo(30, 40, color=color, dtype=np.uint16) / 65535.0
    tifffile.imwrite(
        tmp_path / "f.tif", values.astype(dtype), photometric="rgb" if color else "minisblack"
    )
    photo = read_image(tmp_path / "f.tif")
    assert photo.pixels.dtype == np.uint16
    tolerance = 40 if dtype == np.float16 else 1  # float16 keeps 11 bits
    assert np.abs(photo.pixels.astype(int) - values * 65535).max() <= tolerance
    bits = np.dtype(dtype).itemsize * 8
    assert photo.notes == [f"{bits}-bit floating-point samples converted to 16 bits"]


def test_floating_point_above_one_nan_and_alpha(tmp_path):
    rgb = np.full((10, 20, 3), 0.5, np.float32)
    rgb[0, 0] = [4.0, 2.0, np.nan]  # a highlight above 1, a hole
    alpha = np.full((10, 20, 1), 1.0, np.float32)
    tifffile.imwrite(
        tmp_path / "hdr.tif",
        np.concatenate([rgb, alpha], axis=2),
        photometric="rgb",
        extrasamples=("unassalpha",),
    )
    photo = read_image(tmp_path / "hdr.tif")
    assert photo.pixels[0, 0].tolist() == [65535, 32768, 0]
    assert photo.pixels[5, 5].tolist() == [8192] * 3  # 0.5 / 4 of the full range
    assert (photo.alpha == 65535).all()  # alpha stays 0-1
    assert photo.notes == [
        "32-bit floating-point samples converted to 16 bits "
        "(values up to 4 scaled to the full range)"
    ]


def test_32bit_integer_tiff_keeps_the_top_16_bits(tmp_path):
    values = smooth_photo(10, 20, dtype=np.uint16).astype(np.uint32) << 16
    tifffile.imwrite(tmp_path / "i.tif", values | 0xFFFF, photometric="minisblack")
    photo = read_image(tmp_path / "i.tif")
    np.testing.assert_array_equal(photo.pixels, values >> 16)


def test_gif_first_frame_with_transparency(tmp_path):
    rgb = smooth_photo(30, 40, color=True)
    frame = Image.fromarray(rgb).quantize(64)
    frame.info["transparency"] = 0
    frame.save(tmp_path / "t.gif", transparency=0)
    photo = read_image(tmp_path / "t.gif")
    expected = np.asarray(Image.open(tmp_path / "t.gif").convert("RGBA"))
    np.testing.assert_array_equal(photo.pixels, expected[..., :3])
    np.testing.assert_array_equal(photo.alpha, expected[..., 3])
    assert photo.format == "GIF" and photo.notes == []


def _frames(count):
    return [Image.fromarray(smooth_photo(30, 40, color=True, seed=i)) for i in range(count)]


def test_animated_gif_webp_and_png_say_only_the_first_frame(tmp_path):
    first, *rest = _frames(3)
    first.save(tmp_path / "a.gif", save_all=True, append_images=rest, duration=100)
    first.save(tmp_path / "a.webp", save_all=True, append_images=rest, lossless=True)
    first.save(tmp_path / "a.png", save_all=True, append_images=rest)
    png = read_image(tmp_path / "a.png")
    assert png.notes == ["animated PNG: first frame of 3 only"]
    np.testing.assert_array_equal(png.pixels, np.asarray(first))
    gif = read_image(tmp_path / "a.gif")
    assert gif.notes == ["animated GIF: first frame of 3 only"]
    expected = np.asarray(Image.open(tmp_path / "a.gif").convert("RGB"))
    np.testing.assert_array_equal(gif.pixels, expected)
    webp = read_image(tmp_path / "a.webp")
    assert webp.notes == ["animated WebP: first frame of 3 only"]
    np.testing.assert_array_equal(webp.pixels, np.asarray(first))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_multi_page_tiff_says_only_the_first_page(tmp_path, dtype):
    pages = [smooth_photo(30, 40, color=True, dtype=dtype, seed=i) for i in range(3)]
    path = tmp_path / "m.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(pages[0], photometric="rgb")
        tif.write(pages[0][::4, ::4], photometric="rgb", subfiletype=1)  # a thumbnail
        for page in pages[1:]:
            tif.write(page, photometric="rgb")
    photo = read_image(path)
    np.testing.assert_array_equal(photo.pixels, pages[0])
    assert photo.notes == ["multi-page TIFF: first page of 3 only"]  # the thumbnail not counted
    single = tmp_path / "s.tif"
    tifffile.imwrite(single, pages[0], photometric="rgb")
    assert read_image(single).notes == []


@pytest.mark.parametrize("orientation", [1, 6])
def test_heic_is_shown_as_its_container_says(tmp_path, orientation):
    """HEIF's own transforms (irot, imir) govern, applied by libheif; pillow-heif resets the
    EXIF orientation to 1, so it is never applied a second time."""
    pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(smooth_photo(30, 40, color=True)).save(tmp_path / "p.heic", exif=exif)
    photo = read_image(tmp_path / "p.heic")
    np.testing.assert_array_equal(photo.pixels, np.asarray(Image.open(tmp_path / "p.heic")))
    carried = Image.Exif()
    carried.load(b"Exif\x00\x00" + photo.exif)
    assert carried[0x0112] == 1


def test_heic_from_a_phone(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    rgb = smooth_photo(48, 64, color=True)
    exif = Image.Exif()
    exif[0x010F] = "Phone"
    heif = pillow_heif.from_pillow(Image.fromarray(rgb))
    heif.save(tmp_path / "IMG_0001.HEIC", quality=95, exif=exif.tobytes())
    photo = read_image(tmp_path / "IMG_0001.HEIC")
    assert photo.format == "HEIF" and photo.pixels.shape == (48, 64, 3)
    assert np.abs(photo.pixels.astype(int) - rgb).mean() < 4  # lossy
    carried = Image.Exif()
    carried.load(b"Exif\x00\x00" + photo.exif)
    assert carried[0x010F] == "Phone"
    out = tmp_path / "out.png"
    assert write_image(out, photo.pixels, exif=photo.exif) == []


def test_heic_with_several_images_says_only_the_primary(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    heif = pillow_heif.from_pillow(_frames(1)[0])
    heif.add_from_pillow(_frames(2)[1])
    heif.save(tmp_path / "burst.heic", quality=90)
    photo = read_image(tmp_path / "burst.heic")
    assert photo.notes == ["HEIF with several images: primary image of 2 only"]


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec")
@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_avif_with_orientation(tmp_path, orientation):
    rgb = smooth_photo(30, 40, color=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "p.avif", exif=exif, quality=95)
    photo = read_image(tmp_path / "p.avif")
    assert photo.format == "AVIF"
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "p.avif")).convert("RGB"))
    np.testing.assert_array_equal(photo.pixels, expected)
    assert photo.pixels.shape[:2] == ((40, 30) if orientation in (6, 8) else (30, 40))


def test_a_missing_heif_codec_is_named(tmp_path, monkeypatch):
    from colorizer_app.engine import imageio

    (tmp_path / "IMG_0002.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    with pytest.raises(ImageReadError, match="not an image"):  # damaged, codec present
        read_image(tmp_path / "IMG_0002.heic")
    monkeypatch.setattr(imageio, "_register_heif_opener", lambda: False)
    with pytest.raises(UnsupportedFormatError, match="reading HEIF needs the pillow-heif package"):
        read_image(tmp_path / "IMG_0002.heic")


@pytest.mark.parametrize(
    "samples, bits, expected",
    [
        (np.array([False, True]), 1, [0, 255]),
        (np.array([0, 1], np.uint8), 1, [0, 255]),
        (np.array([0, 7, 15], np.uint8), 4, [0, 119, 255]),
        (np.array([0, 2048, 4095], np.uint16), 12, [0, 32775, 65535]),
        (np.array([0, 200, 255], np.uint8), 8, [0, 200, 255]),
    ],
)
def test_samples_of_fewer_bits_fill_the_range(samples, bits, expected):
    """What tifffile hands over for 1-, 4- and 12-bit TIFFs, at the full 8 or 16 bits."""
    from pathlib import Path

    from colorizer_app.engine.tiff import to_integer_samples

    out, notes = to_integer_samples(Path("x.tif"), samples, bits)
    assert out.tolist() == expected and notes == []
