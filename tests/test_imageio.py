import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps
from skimage import data

from colorizer_app.engine.imageio import as_rgb8, output_suffix, read_image, to_8bit, write_image
from models.errors import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    UnsupportedFormatError,
)
from tests.conftest import smooth_photo

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(**tags):
    exif = Image.Exif()
    names = {"orientation": 0x0112, "make": 0x010F, "artist": 0x013B}
    for key, value in tags.items():
        exif[names[key]] = value
    exif.get_ifd(0x8769)[36867] = "1931:05:04 12:00:00"  # DateTimeOriginal
    return exif


def astronaut(size=(64, 96)):
    return np.ascontiguousarray(data.astronaut()[: size[0], : size[1]])


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".bmp", ".webp"])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_reads_every_format_and_mode(tmp_path, ext, mode):
    im = Image.fromarray(astronaut()).convert(mode)
    path = tmp_path / f"img{ext}"
    im.save(path, **({"lossless": True} if ext == ".webp" else {}))
    photo = read_image(path)
    gray = mode == "L" and ext != ".webp"  # WebP stores gray as RGB
    assert photo.pixels.shape == ((64, 96) if gray else (64, 96, 3))
    assert photo.pixels.dtype == np.uint8 and photo.alpha is None
    if ext != ".jpg":
        np.testing.assert_array_equal(photo.pixels, np.asarray(im.convert("L" if gray else "RGB")))


def test_palette_and_bilevel_images(tmp_path):
    rgb = astronaut()
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    photo = read_image(tmp_path / "p.png")
    assert photo.pixels.shape == (64, 96, 3)
    np.testing.assert_array_equal(
        photo.pixels, np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    )
    Image.fromarray(rgb).convert("1").save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png").pixels)) <= {0, 255}


def test_rgba_and_la_keep_alpha(tmp_path):
    rgba = np.dstack([astronaut(), np.linspace(0, 255, 64 * 96).astype(np.uint8).reshape(64, 96)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    photo = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(photo.alpha, rgba[..., 3])
    np.testing.assert_array_equal(photo.pixels, rgba[..., :3])
    Image.fromarray(rgba).convert("LA").save(tmp_path / "la.png")
    photo = read_image(tmp_path / "la.png")
    assert photo.is_gray and photo.alpha is not None


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.fromarray(astronaut()).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").pixels.shape == (64, 96, 3)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_and_tiff(tmp_path, rng, channels):
    shape = (40, 50) if channels == 1 else (40, 50, channels)
    pixels = rng.integers(0, 65536, shape, dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "x.tif",
        pixels,
        photometric="minisblack" if channels == 1 else "rgb",
        extrasamples=("unassalpha",) if channels == 4 else None,
    )
    import cv2

    bgr = (
        pixels
        if channels == 1
        else cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR)
    )
    cv2.imwrite(str(tmp_path / "x.png"), bgr)
    for name in ("x.tif", "x.png"):
        photo = read_image(tmp_path / name)
        assert photo.bit_depth == 16
        expected = pixels if channels == 1 else pixels[..., :3]
        np.testing.assert_array_equal(photo.pixels, expected)
        if channels == 4:
            np.testing.assert_array_equal(photo.alpha, pixels[..., 3])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation):
    rgb = astronaut((30, 50))
    path = tmp_path / "o.png"
    Image.fromarray(rgb).save(path, exif=_exif(orientation=orientation))
    photo = read_image(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(photo.pixels, expected)
    carried = Image.Exif()
    carried.load(b"Exif\x00\x00" + photo.exif)
    assert carried.get(0x0112) == 1  # reset: the pixels are upright now


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_metadata_is_carried(tmp_path, ext):
    src = tmp_path / "src.jpg"
    Image.fromarray(astronaut()).save(
        src, exif=_exif(make="Kodak", artist="Grandpa", orientation=6), icc_profile=SRGB_ICC
    )
    photo = read_image(src)
    assert photo.icc_profile == SRGB_ICC
    rgb = np.zeros((*photo.pixels.shape[:2], 3), np.uint8)
    out = tmp_path / f"out{ext}"
    write_image(out, rgb, exif=photo.exif, icc_profile=photo.icc_profile)
    back = Image.open(out)
    assert back.info.get("icc_profile") == SRGB_ICC
    exif = back.getexif()
    assert exif.get(0x010F) == "Kodak" and exif.get(0x013B) == "Grandpa"
    if ext != ".tif":  # TIFF keeps the descriptive tags only
        assert exif.get_ifd(0x8769).get(36867) == "1931:05:04 12:00:00"
        assert exif.get(0x0112) == 1


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_written_as_16bit_with_alpha(tmp_path, rng, ext):
    rgb = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    out = tmp_path / f"o{ext}"
    assert write_image(out, rgb, alpha=alpha) == []
    photo = read_image(out)
    np.testing.assert_array_equal(photo.pixels, rgb)
    np.testing.assert_array_equal(photo.alpha, alpha)


def test_formats_without_16bit_or_alpha_say_so(tmp_path, rng):
    rgb = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    notes = write_image(tmp_path / "o.jpg", rgb, alpha=np.zeros((20, 30), np.uint16))
    assert any("8 bits" in n for n in notes) and any("alpha" in n for n in notes)
    assert read_image(tmp_path / "o.jpg").bit_depth == 8


def test_output_suffix():
    from pathlib import Path

    assert output_suffix(Path("a/b.JPEG"), "same") == ".jpeg"
    assert output_suffix(Path("a/b.tiff"), "png") == ".png"
    with pytest.raises(ValueError):
        output_suffix(Path("a.png"), "gif")


# --- bad input ---------------------------------------------------------------------------


def _png_header(width, height):
    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "none.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "e.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "e.jpg")


def test_folder_named_like_an_image(tmp_path):
    (tmp_path / "d.jpg").mkdir()
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path / "d.jpg")


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_truncated_files(tmp_path, ext):
    full = tmp_path / f"full{ext}"
    Image.fromarray(data.astronaut()).save(full)
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ImageReadError, match="truncated|corrupt|damaged"):
        read_image(cut)


def test_truncated_16bit_png(tmp_path):
    import cv2

    cv2.imwrite(
        str(tmp_path / "f.png"), (np.arange(90000) % 65536).astype(np.uint16).reshape(300, 300)
    )
    cut = tmp_path / "cut.png"
    cut.write_bytes((tmp_path / "f.png").read_bytes()[:5000])
    with pytest.raises(ImageReadError, match="truncated|corrupt"):
        read_image(cut)


def test_non_image_with_image_extension(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is a shopping list, not a photo\n")
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(tmp_path / "notes.jpg")


def test_unsupported_format(tmp_path):
    Image.fromarray(astronaut()).save(tmp_path / "paint.pcx")
    with pytest.raises(UnsupportedFormatError, match="PCX.*use JPEG, PNG, TIFF"):
        read_image(tmp_path / "paint.pcx")


def test_signed_integer_tiff_is_unsupported(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((8, 8), np.int16))
    with pytest.raises(UnsupportedFormatError, match="int16 samples"):
        read_image(tmp_path / "s.tif")


def test_zero_width_or_height(tmp_path):
    (tmp_path / "z.png").write_bytes(_png_header(0, 10))
    with pytest.raises(ImageReadError, match="zero width|not an image|corrupt"):
        read_image(tmp_path / "z.png")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))  # 10 gigapixels declared in 100 bytes
    with pytest.raises(ImageTooLargeError, match="limit of 250 megapixels.*--max-pixels"):
        read_image(bomb)
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "bomb.png", max_pixels=1_000_000)
    small = tmp_path / "small.png"
    Image.fromarray(astronaut()).save(small)
    with pytest.raises(ImageTooLargeError, match="limit"):
        read_image(small, max_pixels=1000)
    assert read_image(small, max_pixels=64 * 96).width == 96


def test_write_failure_leaves_no_partial_file_and_keeps_target(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous good output")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("colorizer_app.engine.encode.encode", broken)
    with pytest.raises(ImageWriteError, match="No space left"):
        write_image(target, np.zeros((4, 4, 3), np.uint8))
    assert target.read_bytes() == b"previous good output"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ImageWriteError, match="cannot write"):
        write_image(blocker / "sub" / "o.png", np.zeros((4, 4, 3), np.uint8))


def test_eight_bit_conversions():
    sixteen = np.array([[0, 128, 257, 32896, 65535]], np.uint16)
    assert to_8bit(sixteen).tolist() == [[0, 0, 1, 128, 255]]  # rounded, not shifted
    eight = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert to_8bit(eight) is eight
    rgb = as_rgb8(eight)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    assert (rgb == eight[..., None]).all()  # gray repeated into the three channels
    colour = np.full((2, 2, 3), 65535, np.uint16)
    assert (as_rgb8(colour) == 255).all() and as_rgb8(colour).flags.c_contiguous


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", ["lzw", "zlib", "zstd", "lzma", "packbits"])
def test_compressed_tiffs_are_read_exactly(tmp_path, bits, compression):
    """Scanners write LZW (and Deflate, ...) TIFFs by default: read them bit-exactly."""
    pixels = smooth_photo(60, 80, color=True, dtype=np.uint8 if bits == 8 else np.uint16)
    path = tmp_path / f"{compression}.tif"
    tifffile.imwrite(path, pixels, compression=compression, photometric="rgb")
    photo = read_image(path)
    assert photo.pixels.dtype == pixels.dtype
    np.testing.assert_array_equal(photo.pixels, pixels)


def test_jpeg_and_webp_in_tiff_are_read(tmp_path):
    pixels = smooth_photo(60, 80, color=True)
    tifffile.imwrite(tmp_path / "j.tif", pixels, compression="jpeg", photometric="rgb")
    tifffile.imwrite(tmp_path / "w.tif", pixels, compression="webp", photometric="rgb")
    for name in ("j.tif", "w.tif"):  # Pillow's libtiff cannot decode WebP: tifffile does
        photo = read_image(tmp_path / name)
        assert photo.pixels.shape == pixels.shape
        assert np.abs(photo.pixels.astype(int) - pixels).mean() < 4
    # 12-bit JPEG-in-TIFF (Pillow cannot open it): scaled to the 16-bit range
    deep = smooth_photo(60, 80, color=True, dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "d.tif", deep >> 4, compression="jpeg", photometric="rgb", bitspersample=12
    )
    photo = read_image(tmp_path / "d.tif")
    assert photo.pixels.dtype == np.uint16
    assert np.abs(photo.pixels.astype(int) - deep).mean() < 300  # lossy, but the full range


def _png_header_only(path, width, height):
    """A PNG that claims ``width`` x ``height`` gray pixels and holds none (a cheap giant)."""
    import struct
    import zlib

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_reading_never_changes_pillows_process_wide_limit(tmp_path):
    """Issue #14 item 17: read_image raised Image.MAX_IMAGE_PIXELS for the whole process."""
    from PIL import Image as PILImage

    from colorizer_app.engine.imageio import ImageReadError, ImageTooLargeError

    before = PILImage.MAX_IMAGE_PIXELS
    giant = _png_header_only(tmp_path / "giant.png", 16000, 16000)  # 256 MP, above Pillow's
    with pytest.raises(ImageTooLargeError, match="256 megapixels|limit of 250"):
        read_image(giant)  # our limit (250 MP) speaks, not Pillow's bomb guard
    assert PILImage.MAX_IMAGE_PIXELS == before
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(giant, max_pixels=300_000_000)  # allowed: read, and found empty
    assert PILImage.MAX_IMAGE_PIXELS == before
    small = tmp_path / "small.png"
    PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(small)
    read_image(small)
    assert PILImage.MAX_IMAGE_PIXELS == before
