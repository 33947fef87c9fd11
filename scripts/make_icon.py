"""Draw the app icon (resources/icons/colorizer.png and .ico): a landscape photo, gray on the
left and in colour on the right of a slanted split, in a rounded frame. Run once; the
results are committed."""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024  # drawn large, then downsampled for smooth edges
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"


def scene() -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(img)
    for y in range(SIZE):  # sky gradient
        t = y / SIZE
        draw.line([(0, y), (SIZE, y)], fill=(int(61 + 130 * t), int(139 + 85 * t), 253))
    s = SIZE / 256
    draw.ellipse([150 * s, 54 * s, 202 * s, 106 * s], fill=(255, 212, 59))
    hills = [(0, 200), (70, 110), (120, 170), (160, 120), (256, 210), (256, 256), (0, 256)]
    draw.polygon([(x * s, y * s) for x, y in hills], fill=(47, 125, 74))
    draw.polygon(
        [(0, 256 * s), (0, 215 * s), (256 * s, 225 * s), (256 * s, 256 * s)], fill=(116, 184, 22)
    )
    return img


def main() -> None:
    colour = scene()
    gray = colour.convert("L").convert("RGB")
    s = SIZE / 256
    split = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(split).polygon([(0, 0), (150 * s, 0), (106 * s, SIZE), (0, SIZE)], fill=255)
    photo = Image.composite(gray, colour, split)
    ImageDraw.Draw(photo).line([(150 * s, 0), (106 * s, SIZE)], fill="white", width=int(6 * s))
    frame = Image.new("L", (SIZE, SIZE), 0)
    box = [16 * s, 16 * s, 240 * s, 240 * s]
    ImageDraw.Draw(frame).rounded_rectangle(box, radius=40 * s, fill=255)
    icon = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    icon.paste(photo, mask=frame)
    ImageDraw.Draw(icon).rounded_rectangle(
        box, radius=40 * s, outline=(52, 58, 64), width=int(6 * s)
    )
    icon = icon.resize((256, 256), Image.Resampling.LANCZOS)
    OUT.mkdir(parents=True, exist_ok=True)
    icon.save(OUT / "colorizer.png", optimize=True)
    icon.save(
        OUT / "colorizer.ico",
        sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)],
    )


if __name__ == "__main__":
    main()
