"""Help menu dialogs, the app icon and ``colorizer --self-test``."""

import pytest

pytest.importorskip("PySide6")

from colorizer_app import __version__  # noqa: E402
from colorizer_app.cli import main  # noqa: E402
from colorizer_app.gui.app import application_icon  # noqa: E402
from colorizer_app.paths import docs_dir  # noqa: E402
from colorizer_app.selftest import run_self_test  # noqa: E402


def test_about_shows_versions_and_the_model_card(qtbot, window, tiny_model_file):
    import torch
    from PySide6.QtCore import qVersion

    window.workspace.controls.refresh_models(select=tiny_model_file)
    dialog = window.show_about()
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    assert f"Colorizer {__version__}" in text
    assert torch.__version__ in text and qVersion() in text
    assert "tiny" in text  # the selected model's name, from its own file
    assert "Architecture" in text and "Training" in text


def test_model_card_of_the_shipped_model(qapp):
    from colorizer_app.gui.about import model_card
    from models.modelfile import default_model_path, read_info

    path = default_model_path()
    if path is None:
        pytest.skip("no default model shipped in this build")
    card = model_card(path)
    assert read_info(path).name in card
    assert "λ L1" not in card  # an L1-only model: no adversarial weight to show
    if len(read_info(path).training.get("stages", [])) > 1:
        assert "Stages" in card
    info = read_info(path)
    assert ("Colour hints" in card) and (("yes" in card) == info.takes_hints)
    for name in info.metrics.get("evaluation") or {}:
        assert f"{name} (recommended settings)" in card


def test_model_card_of_a_file_with_partial_numbers(qapp, tiny_model_file, tmp_path):
    """A metrics block checked for types but missing a partner (psnr without gray_psnr):
    the card shows what there is."""
    from colorizer_app.gui.about import model_card
    from tests.hostile import rewrite_metadata

    metrics = {"psnr": 22.5, "ssim": 0.9, "gray_ssim": 0.8, "images": 7}
    path = rewrite_metadata(tiny_model_file, tmp_path / "partial.safetensors", metrics=metrics)
    card = model_card(path)
    assert "PSNR" not in card and "0.9000 (gray input 0.8000)" in card and ">7<" in card


def test_user_guide_opens_with_its_screenshots(qtbot, window):
    assert docs_dir() is not None
    dialog = window.show_guide()
    qtbot.addWidget(dialog)
    assert dialog.loaded
    assert "Batch tab" in dialog.browser.toPlainText()
    images = (docs_dir() / "USER_GUIDE.md").read_text().count("](images/")
    assert images >= 3
    for line in (docs_dir() / "USER_GUIDE.md").read_text().splitlines():
        if "](images/" in line:
            name = line.split("](")[1].rstrip(")")
            assert (docs_dir() / name).is_file(), name
    # screenshots are shrunk to the page and framed (issue #15: they were wider than it)
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument

    doc = dialog.browser.document()
    shown = [
        doc.resource(QTextDocument.ResourceType.ImageResource.value, QUrl(f"images/{n}"))
        for n in ("colorize.png", "batch.png", "train.png")
    ]
    assert all(img is not None and not img.isNull() for img in shown)
    assert all(img.width() <= dialog.browser.width() for img in shown)
    assert all(img.pixelColor(0, 0).name() == "#9e9e9e" for img in shown)  # the frame


def test_icon_loads(qapp):
    icon = application_icon()
    assert not icon.isNull() and icon.availableSizes()


def test_self_test_passes(capsys, qapp):
    assert run_self_test() == 0
    out = capsys.readouterr().out
    assert "self-test passed: 4/4 checks" in out
    assert out.count("[ok]") == 4


def test_self_test_reports_a_missing_model(monkeypatch, capsys):
    monkeypatch.setattr("models.modelfile.default_model_path", lambda: None)
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] load the default model" in out and "self-test FAILED" in out


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"colorizer {__version__}"
