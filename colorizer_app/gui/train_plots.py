"""The Train tab's live plots (pyqtgraph): the losses of each logged step, and validation PSNR
and colourfulness next to their baselines (the gray input, the truth).

Any loss the trainer logs (``g_l1``, ``g_mse``, ``g_adv``, ``d_real``, a future ``g_*``) gets
a curve on the loss plot the first time it has a value; nothing here lists the recipes.
"""

from __future__ import annotations

import itertools

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from trainer.report import loss_label, losses

# Steady colours for the usual losses; any other loss takes the next of the spare ones.
LOSS_COLOURS = {
    "g_l1": "#1f77b4",
    "g_mse": "#1f77b4",
    "g_adv": "#ff7f0e",
    "d_real": "#2ca02c",
    "d_fake": "#d62728",
}
SPARE_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
EVAL_KEYS = ("psnr", "gray_psnr", "colourfulness", "truth_colourfulness")


class TrainPlots:
    """Three plot widgets and the series behind them; :meth:`add` takes trainer records."""

    def __init__(self) -> None:
        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        self.loss_plot = pg.PlotWidget(title="Losses")
        self.psnr_plot = pg.PlotWidget(title="Validation PSNR (dB)")
        self.colour_plot = pg.PlotWidget(title="Validation colourfulness")
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}  # made when a series first has data
        self._spare = itertools.cycle(SPARE_COLOURS)
        self._eval_styles = {
            "psnr": (self.psnr_plot, "model", "#1f77b4", {"symbol": "o"}),
            "gray_psnr": (self.psnr_plot, "gray input", "#7f7f7f", {"dash": True}),
            "colourfulness": (self.colour_plot, "model", "#d62728", {"symbol": "o"}),
            "truth_colourfulness": (self.colour_plot, "truth", "#7f7f7f", {"dash": True}),
        }
        for plot in self.widgets():
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.3)

    def widgets(self) -> tuple[QWidget, QWidget, QWidget]:
        return self.loss_plot, self.psnr_plot, self.colour_plot

    def clear(self) -> None:
        self.series = {}
        for curve in self.curves.values():
            curve.setData([], [])

    def add(self, record: dict) -> None:
        """Append a step record's losses, or an eval record's validation numbers."""
        step = float(record.get("step", 0))
        if record.get("event") == "step":
            values = losses(record)
        else:
            values = {k: float(record[k]) for k in EVAL_KEYS if k in record}
        for key, value in values.items():
            xs, ys = self.series.setdefault(key, ([], []))
            xs.append(step)
            ys.append(value)
            self._curve_for(key).setData(xs, ys)

    def _curve_for(self, key: str) -> pg.PlotDataItem:
        if key not in self.curves:
            if key in self._eval_styles:
                plot, name, colour, style = self._eval_styles[key]
            else:
                plot, name, style = self.loss_plot, loss_label(key), {}
                colour = LOSS_COLOURS.get(key) or next(self._spare)
            self.curves[key] = _curve(plot, name, colour, **style)
        return self.curves[key]


def _curve(plot, name, colour, *, symbol=None, dash=False) -> pg.PlotDataItem:
    if plot.plotItem.legend is None:
        plot.addLegend(offset=(-10, 10))
    pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine)
    kwargs = {"symbol": symbol, "symbolSize": 6, "symbolBrush": colour} if symbol else {}
    return plot.plot([], [], pen=pen, name=name, **kwargs)
