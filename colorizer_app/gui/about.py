"""Help menu dialogs: About (versions and the loaded model's card) and the user guide."""

from __future__ import annotations

import html
import platform
from pathlib import Path

import PySide6
import torch
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QColor, QImage, QPainter, QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout

from colorizer_app import __version__
from colorizer_app.paths import docs_dir
from models.errors import ModelFileError
from models.modelfile import read_info


def versions() -> dict[str, str]:
    cuda = torch.version.cuda if torch.cuda.is_available() else None
    return {
        "Colorizer": __version__,
        "PyTorch": torch.__version__ + (f" (CUDA {cuda})" if cuda else " (CPU)"),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "Python": platform.python_version(),
        "System": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def _rows(items: dict) -> str:
    cells = "".join(
        f"<tr><td><b>{html.escape(str(k))}</b>&nbsp;&nbsp;</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in items.items()
        if v not in (None, "")
    )
    return f"<table>{cells}</table>"


def model_card(path: Path | None) -> str:
    """The model file's own description: architecture, recipe, validation numbers."""
    if path is None:
        return "<p>No model is selected.</p>"
    try:
        info = read_info(path)
    except ModelFileError as err:
        return f"<p>{html.escape(str(err))}</p>"
    config = info.config.to_dict()
    training, metrics = info.training, info.metrics
    design = {
        "Name": info.name or path.stem,
        "File": str(path),
        "Architecture": f"{type(info.config).__name__.replace('Config', '')} "
        + ", ".join(f"{k} {v}" for k, v in config.items()),
        "Colour space": info.color_space,
        "Heads": ", ".join(info.heads),
        "Colour hints": "yes" if info.takes_hints else "no",
        "Reads colour by": (
            f"{info.recommended.get('decoder', 'regression')}"
            + (
                f", temperature {info.recommended['temperature']:g}"
                if "temperature" in info.recommended
                else ""
            )
        ),
    }
    recipe = {
        "Recipe": training.get("recipe"),
        # λ weighs L1 against the adversarial loss: meaningless for an L1-only model
        "λ L1": training.get("lambda_l1") if training.get("recipe") == "gan_l1" else None,
        "Fine-tuned from": training.get("init_from"),
        "Stages": len(training["stages"]) if len(training.get("stages") or ()) > 1 else None,
        "Steps": training.get("steps"),
        "Epochs": training.get("epochs"),
        "Crop size": training.get("image_size"),
        "Batch size": training.get("batch_size"),
        "Data": training.get("data"),
        "Wall time (s)": training.get("wall_seconds"),
        "Hardware": training.get("hardware"),
    }
    text = "<h3>Model</h3>" + _rows(design) + "<h3>Training</h3>" + _rows(recipe)
    if metrics:  # the file checked each number's type (models.modelfile); pairs may be partial
        numbers = {}
        if {"psnr", "gray_psnr"} <= set(metrics):
            numbers["PSNR (dB)"] = f"{metrics['psnr']:.2f} (gray input {metrics['gray_psnr']:.2f})"
        if {"ssim", "gray_ssim"} <= set(metrics):
            numbers["SSIM"] = f"{metrics['ssim']:.4f} (gray input {metrics['gray_ssim']:.4f})"
        if {"colourfulness", "truth_colourfulness"} <= set(metrics):
            numbers["Colourfulness"] = (
                f"{metrics['colourfulness']:.1f} (truth {metrics['truth_colourfulness']:.1f})"
            )
        numbers["Validation images"] = metrics.get("images")
        text += "<h3>Validation when it was trained</h3>" + _rows(numbers)
    for name, s in (metrics.get("evaluation") or {}).items():  # at the recommended settings
        if isinstance(s, dict) and {"psnr", "gray_psnr", "colourfulness_ratio"} <= set(s):
            text += f"<h3>{html.escape(str(name))} (recommended settings)</h3>" + _rows(
                {
                    "PSNR (dB)": f"{s['psnr']:.2f} (gray input {s['gray_psnr']:.2f})",
                    "Colourfulness": f"{s['colourfulness_ratio']:.0%} of the truth's",
                    "Images": s.get("images"),
                }
            )
    return text


def about_html(model_path: Path | None) -> str:
    return (
        f"<h2>Colorizer {html.escape(__version__)}</h2>"
        "<p>Brings black-and-white photographs back to colour: a U-Net that predicts the "
        "probable colours of every pixel (and takes colour hints), trained from scratch, run "
        "tile by tile so scans of any size fit in bounded memory."
        "</p>" + _rows(versions()) + model_card(model_path)
    )


class AboutDialog(QDialog):
    def __init__(self, model_path: Path | None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Colorizer")
        self.browser = GuideBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.resize(880, 680)  # the dialog's: images are fitted to it as they load
        self.browser.setHtml(about_html(model_path))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 620)


class GuideBrowser(QTextBrowser):
    """The guide's text with its screenshots shrunk to the page width (never wider than the
    dialog) and framed, so a screenshot never reads as live controls."""

    MARGIN = 40  # the document's own margins and a scroll bar

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 - Qt override
        found = super().loadResource(kind, url)
        if kind != QTextDocument.ResourceType.ImageResource.value or found is None:
            return found
        image = found if isinstance(found, QImage) else QImage.fromData(found)
        if image.isNull():
            return found
        return framed(image, max(200, self.viewport().width() - self.MARGIN))


def framed(image: QImage, width: int) -> QImage:
    """``image`` no wider than ``width`` with a thin gray frame around it."""
    if image.width() + 2 > width:
        image = image.scaledToWidth(width - 2, Qt.TransformationMode.SmoothTransformation)
    out = QImage(image.width() + 2, image.height() + 2, QImage.Format.Format_RGB32)
    out.fill(QColor("#9e9e9e"))
    painter = QPainter(out)
    painter.drawImage(1, 1, image)
    painter.end()
    return out


class GuideDialog(QDialog):
    """The user guide (docs/USER_GUIDE.md, screenshots included), rendered offline."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Colorizer User Guide")
        self.browser = GuideBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.resize(880, 680)  # the dialog's: images are fitted to it as they load
        layout = QVBoxLayout(self)
        folder = docs_dir()
        if folder is None:
            layout.addWidget(
                QLabel(
                    "The user guide is not installed with this copy; it is docs/USER_GUIDE.md "
                    "in the Colorizer source."
                )
            )
        else:
            self.browser.setSearchPaths([str(folder)])
            self.browser.setSource(
                QUrl.fromLocalFile(str(folder / "USER_GUIDE.md")),
                QTextDocument.ResourceType.MarkdownResource,
            )
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(900, 760)

    @property
    def loaded(self) -> bool:
        return bool(self.browser.toPlainText().strip())
