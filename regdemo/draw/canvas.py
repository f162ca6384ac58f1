"""Figures to pixels and PNG bytes, cheaply: texts rendered once, layers rendered once, fast PNG encoding.

- :class:`Canvas`: an Agg canvas whose renderer renders each text once per process and lays it over
  wherever it is drawn again (a figure's tick labels, axis labels and legend are the same run after run).
  It also keeps what matplotlib would look up again at every text's layout: the fonts' heights, and
  one mathtext parser (whose parses are cached per parser) for every canvas.
- A figure redrawn for every run (or every frame of the film) is split by what changes: a background
  rendered once (axes, ticks, labels), the artists of one run or frame drawn on a copy of it, and static
  artists that must stay on top (a legend, the frame) rendered once onto transparent pixels and laid over
  (:class:`Layer`). A field on a regular grid is painted straight into an axes' pixels
  (:class:`GridPainter`), as ``imshow`` would draw it, without resampling through an artist.
- PNGs are written unfiltered at zlib level 1 (:func:`encode_png`): several times faster than matplotlib's
  default (Pillow, adaptive filters, level 6), without the metadata matplotlib writes (a redraw is
  byte-identical).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import text as mpl_text
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.mathtext import MathTextParser

from regdemo.results.rundir.safe import PNG_SIGNATURE

DPI = 110  # every PNG regdemo writes
PNG_LEVEL = 1


TEXT_STEP = 4  # texts are placed to a quarter pixel, so a text at another place of the same quarter reuses its pixels
TEXT_SPRITES = 4096  # rendered texts kept per process (a few kB each)
_SPRITES: OrderedDict[tuple[Any, ...], tuple[int, int, np.ndarray]] = OrderedDict()
_SHAPING = ("fontfeatures", "language")  # a text with either is drawn as matplotlib draws it, not reused
_MATHTEXT = MathTextParser("path")  # what RendererAgg makes one of per renderer
_HEIGHTS: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}  # (font, dpi) → its ascent, descent, line gap


class TextReusingRenderer(RendererAgg):
    """Agg, rendering each text (string, font, colour, angle, quarter-pixel offset) once per process: a text
    drawn again, at any place, is laid over from its first rendering (tick labels, axis labels, legend entries
    are the same in every run's figure; FreeType's layout and glyph rendering were most of a draw)."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__(width, height, dpi)
        self.mathtext_parser = _MATHTEXT  # its parses are cached per parser: one for every canvas and sprite

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None) -> None:
        shaped = mtext is not None and any(getattr(mtext, f"get_{what}", lambda: None)() for what in _SHAPING)
        if ismath == "TeX" or shaped or gc.get_clip_rectangle() is not None or gc.get_clip_path()[0] is not None:
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return
        x, y = round(x * TEXT_STEP) / TEXT_STEP, round(y * TEXT_STEP) / TEXT_STEP
        left, top = math.floor(x), math.floor(y)
        look = (gc.get_rgb(), gc.get_alpha(), gc.get_forced_alpha(), gc.get_antialiased())
        key = (s, _font_key(prop), angle, ismath, look, self.dpi, x - left, y - top)
        if key not in _SPRITES:
            _SPRITES[key] = self._sprite(gc, x - left, y - top, s, prop, angle, ismath)
            if len(_SPRITES) > TEXT_SPRITES:
                _SPRITES.popitem(last=False)
        _SPRITES.move_to_end(key)
        row, col, sprite = _SPRITES[key]
        _over(np.asarray(self.buffer_rgba()), top + row, left + col, sprite)

    def _get_font_height_metrics(self, prop) -> tuple[float, float, float] | tuple[None, None, None]:
        """The font's ascent, descent and line gap as ``Text._get_layout`` reads them when the renderer has no such
        method (matplotlib ≥ 3.11), cached: it looks them up in the font's tables at every layout of every text."""
        key = (_font_key(prop), self.dpi)
        if key not in _HEIGHTS:
            _HEIGHTS[key] = _font_heights(prop, self.dpi)
        return _HEIGHTS[key]

    def _sprite(self, gc, fx: float, fy: float, s: str, prop, angle: float, ismath) -> tuple[int, int, np.ndarray]:
        """The text rendered alone at (fx, fy) past a scratch canvas' corner, cropped: (row, col) of its top
        left corner from the text's anchor pixel, and its RGBA pixels (straight alpha)."""
        width, height, descent = _text_metrics(self, s, prop, ismath)
        text = (gc, fx, fy, s, prop, angle, ismath)
        sprite, edge = self._render_alone(text, _text_box(width, height, descent, angle))
        if edge:  # glyphs past the text's box and its margin: again on a square with room for any angle
            half = math.ceil(width + height + descent) + 4
            sprite, _ = self._render_alone(text, (half, half, 2 * half, 2 * half))
        return sprite

    def _render_alone(self, text: tuple, box: tuple[int, int, int, int]) -> tuple[tuple[int, int, np.ndarray], bool]:
        """``text`` (draw_text's arguments, the place as fractions of a pixel) drawn on a scratch canvas ``box`` =
        (anchor row, anchor col, rows, cols) and cropped (see :meth:`_sprite`); and whether it touches the edge."""
        gc, fx, fy, s, prop, angle, ismath = text
        top, left, height, width = box
        scratch = RendererAgg(width, height, self.dpi)
        scratch.mathtext_parser = _MATHTEXT
        scratch.clear()
        RendererAgg.draw_text(scratch, gc, left + fx, top + fy, s, prop, angle, ismath)
        rgba = np.asarray(scratch.buffer_rgba())
        rows, cols = np.nonzero(rgba[..., 3])
        if not rows.size:
            return (0, 0, np.zeros((0, 0, 4), np.uint8)), False
        (row0, row1), (col0, col1) = (rows.min(), rows.max()), (cols.min(), cols.max())
        edge = row0 == 0 or col0 == 0 or row1 == height - 1 or col1 == width - 1
        return (int(row0) - top, int(col0) - left, rgba[row0 : row1 + 1, col0 : col1 + 1].copy()), edge


def _font_heights(prop, dpi: float) -> tuple[float, float, float] | tuple[None, None, None]:
    """(ascent, descent, line gap) in pixels from the font's OS/2 table, else its hhea table, as
    ``matplotlib.text.Text._get_layout`` computes them; (None, None, None) without either (it measures "lp")."""
    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap, ascent, descent in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is not None:
            scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72  # its order
            return table[ascent] * scale, -table[descent] * scale, table[gap] * scale
    return None, None, None


def _text_metrics(renderer: RendererAgg, s: str, prop, ismath) -> tuple[float, float, float]:
    """``renderer.get_text_width_height_descent``, from matplotlib's cache of it where it has one: the text's
    layout measured it already (measuring again lays the text out again in FreeType)."""
    cached = getattr(mpl_text, "_get_text_metrics_with_cache", None)
    if cached is None:
        return renderer.get_text_width_height_descent(s, prop, ismath)
    return cached(renderer, s, prop, ismath, renderer.dpi)


def _text_box(width: float, height: float, descent: float, angle: float) -> tuple[int, int, int, int]:
    """A scratch canvas for a text of that extent at ``angle`` (degrees): (anchor row, anchor col, rows, cols),
    the text's box around its anchor with a margin of its height on every side, rotated (rows count down)."""
    pad = height + 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = [(-pad, -descent - pad), (width + pad, -descent - pad), (-pad, height + pad), (width + pad, height + pad)]
    cols = [dx * cos - dy * sin for dx, dy in corners]
    rows = [-(dx * sin + dy * cos) for dx, dy in corners]
    top, left = math.ceil(-min(rows)) + 1, math.ceil(-min(cols)) + 1
    return top, left, top + math.ceil(max(rows)) + 2, left + math.ceil(max(cols)) + 2


def _font_key(prop) -> tuple[Any, ...]:
    return (
        tuple(prop.get_family()),
        prop.get_style(),
        prop.get_variant(),
        prop.get_weight(),
        prop.get_stretch(),
        prop.get_size_in_points(),
        prop.get_file(),
        prop.get_math_fontfamily(),
    )


def _over(canvas: np.ndarray, row: int, col: int, sprite: np.ndarray) -> None:
    """Lay ``sprite`` (h, w, 4) straight-alpha RGBA over ``canvas`` (height, width, 4) at (row, col), clipped to it."""
    top, left = max(row, 0), max(col, 0)
    bottom, right = min(row + sprite.shape[0], canvas.shape[0]), min(col + sprite.shape[1], canvas.shape[1])
    if bottom <= top or right <= left:
        return
    src = sprite[top - row : bottom - row, left - col : right - col]
    dst = canvas[top:bottom, left:right]
    if (dst[..., 3] == 255).all():  # opaque under it, the usual case: plain "over"
        opacity = src[..., 3:] * np.float32(1 / 255)
        dst[..., :3] = (src[..., :3] * opacity + dst[..., :3] * (1 - opacity) + 0.5).astype(np.uint8)
        return
    src, under = src.astype(np.float32) / 255, dst.astype(np.float32) / 255
    alpha = src[..., 3:] + under[..., 3:] * (1 - src[..., 3:])
    color = src[..., :3] * src[..., 3:] + under[..., :3] * under[..., 3:] * (1 - src[..., 3:])
    shown = alpha > 0
    dst[..., :3] = np.where(shown, color / np.where(shown, alpha, 1) * 255 + 0.5, dst[..., :3]).astype(np.uint8)
    dst[..., 3:] = (alpha * 255 + 0.5).astype(np.uint8)


class Canvas(FigureCanvasAgg):
    """An Agg canvas whose renderer reuses rendered texts (:class:`TextReusingRenderer`)."""

    def get_renderer(self) -> TextReusingRenderer:
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key or not isinstance(getattr(self, "renderer", None), TextReusingRenderer):
            self.renderer = TextReusingRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


def new_figure(figsize: tuple[float, float], dpi: float = DPI) -> Figure:
    """A figure on its own :class:`Canvas`, outside pyplot: nothing to close, nothing kept after its last use."""
    fig = Figure(figsize=figsize, dpi=dpi)
    Canvas(fig)
    return fig


def rgba_pixels(fig: Figure) -> np.ndarray:
    """The RGBA pixels (height, width, 4) uint8 of ``fig``'s canvas as last rendered: a view, not a copy."""
    return np.asarray(fig.canvas.buffer_rgba())


def pixels(fig: Figure) -> np.ndarray:
    """The RGB pixels (height, width, 3) uint8 of ``fig``'s canvas as last rendered: a view, not a copy."""
    return rgba_pixels(fig)[..., :3]


def copy_rgb(rgba: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The RGB of RGBA pixels (..., 4) uint8, copied into ``out`` (..., 3) or a new contiguous array.

    A channel at a time: numpy copies a (..., 4) → (..., 3) slice element by element, several times slower.
    """
    out = np.empty((*rgba.shape[:-1], 3), dtype=np.uint8) if out is None else out
    for channel in range(3):
        out[..., channel] = rgba[..., channel]
    return out


def packed_pixels(fig: Figure) -> np.ndarray:
    """The same pixels as (height, width) uint32, one RGBA pixel each (the byte order of
    :func:`pack_colors`): a view, written a pixel at a time."""
    return np.asarray(fig.canvas.buffer_rgba()).view(np.uint32)[..., 0]


def pack_colors(rgb: np.ndarray) -> np.ndarray:
    """Opaque colours (n, 3) uint8 as (n,) uint32 pixels for :func:`packed_pixels`."""
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(rgba).view(np.uint32)[:, 0]


def encode_png(pixels: np.ndarray) -> bytes:
    """RGB (height, width, 3) or opaque RGBA (height, width, 4) pixels, uint8, as an RGB PNG's bytes (no
    metadata, no timestamp).

    Written here rather than by Pillow, which tries PNG's five row filters on every row and keeps the
    best: most of its time on a figure's pixels. Rows are stored unfiltered (filter 0) and compressed at
    zlib level :data:`PNG_LEVEL`; on plots' flat colours that is as small (about 10 % smaller on
    boundary.png) in a third of the time.
    """
    height, width = pixels.shape[:2]
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 0] = 0  # each row's filter type: none
    copy_rgb(pixels, rows[:, 1:].reshape(height, width, 3))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, deflate, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, PNG_LEVEL)) + _chunk(b"IEND")


def _chunk(kind: bytes, data: bytes = b"") -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(fig: Figure) -> bytes:
    """``fig`` rendered at :data:`DPI` as PNG bytes; a pyplot figure is closed (freed) after."""
    fig.set_dpi(DPI)
    canvas = fig.canvas if isinstance(fig.canvas, Canvas) else Canvas(fig)
    canvas.draw()
    png = encode_png(rgba_pixels(fig))
    plt.close(fig)
    return png


def pixel_box(ax: Axes) -> tuple[slice, slice]:
    """The (rows, cols) of the canvas buffer whose pixel centres lie inside ``ax`` (rows counted from the top)."""
    height = ax.figure.bbox.height
    x0, y0, x1, y1 = ax.bbox.extents  # display pixels, from the bottom left
    rows = slice(int(np.ceil(height - y1 - 0.5)), int(np.floor(height - y0 - 0.5)) + 1)
    return rows, slice(int(np.ceil(x0 - 0.5)), int(np.floor(x1 - 0.5)) + 1)


@dataclass(frozen=True)
class GridPainter:
    """Paints a field sampled on a regular grid into one axes' pixels, bilinearly interpolated at each pixel's
    centre and coloured through a colormap at an opacity over the axes' face colour (as ``imshow`` would).

    Made for one axes position and limits and one grid's axes; reused for every field on that grid (the
    film's frames, a sweep's runs). ``rows`` and ``cols`` are the canvas pixels painted (h and w of them).
    """

    rows: slice
    cols: slice
    below: tuple[np.ndarray, np.ndarray]  # the grid row (h,) and col (w,) at or before each pixel centre
    weights: tuple[np.ndarray, np.ndarray]  # float32 weights (h, 1) and (w,) of the grid row and col after it
    colors: np.ndarray  # (256,) uint32 (see pack_colors): the colormap at its opacity over the face colour

    def __call__(self, fig: Figure, field: np.ndarray) -> None:
        """Paint ``field`` (grid rows, grid cols) into ``fig``'s canvas in place; NaN is left unpainted."""
        (row, col), (wy, wx) = self.below, self.weights
        across = field[:, col] * (1 - wx) + field[:, col + 1] * wx  # along x first: (grid rows, w)
        value = across[row] * (1 - wy) + across[row + 1] * wy  # then along y: (h, w)
        level = np.clip(value * 255 + 0.5, 0, 255)  # NaN stays NaN
        shown = np.isfinite(level)
        colors = np.take(self.colors, np.where(shown, level, 0).astype(np.uint8))
        region = packed_pixels(fig)[self.rows, self.cols]
        if shown.all():
            region[...] = colors
        else:
            np.copyto(region, colors, where=shown)


def _axis_lookup(centres: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points ``centres`` (n,) on a regular ``grid`` (m,): the grid index at or before each (at most
    m − 2), and the weight of the next; points beyond the grid take its edge value."""
    if len(grid) < 2:
        raise ValueError(f"a grid needs at least 2 points per axis (got {len(grid)})")
    where = np.clip((centres - grid[0]) / (grid[-1] - grid[0]) * (len(grid) - 1), 0, len(grid) - 1)
    below = np.minimum(where.astype(np.intp), len(grid) - 2)
    return below, (where - below).astype(np.float32)


def grid_painter(ax: Axes, xs: np.ndarray, ys: np.ndarray, cmap: Colormap, alpha: float) -> GridPainter:
    """A :class:`GridPainter` for ``ax`` as it is now placed and limited (linear axes), for fields on the grid
    of axes ``xs`` (cols,) and ``ys`` (rows,), coloured by ``cmap`` (0–1) at opacity ``alpha``."""
    rows, cols = pixel_box(ax)
    height = ax.figure.bbox.height
    x0, y0, x1, y1 = ax.bbox.extents
    (xlow, xhigh), (ylow, yhigh) = ax.get_xlim(), ax.get_ylim()
    col_x = xlow + (np.arange(cols.start, cols.stop) + 0.5 - x0) / (x1 - x0) * (xhigh - xlow)
    row_y = ylow + (height - (np.arange(rows.start, rows.stop) + 0.5) - y0) / (y1 - y0) * (yhigh - ylow)
    col, wx = _axis_lookup(col_x, np.asarray(xs, dtype=np.float64))
    row, wy = _axis_lookup(row_y, np.asarray(ys, dtype=np.float64))
    face = np.asarray(ax.patch.get_facecolor()[:3])
    colors = 255 * (alpha * cmap(np.linspace(0, 1, 256))[:, :3] + (1 - alpha) * face)
    return GridPainter(rows, cols, (row, col), (wy[:, None], wx), pack_colors((colors + 0.5).astype(np.uint8)))


@dataclass(frozen=True)
class Layer:
    """Static artists rendered once onto transparent pixels: the (n,) pixels they drew on, as ``rows`` and
    ``cols`` of the canvas, their colours (n, 3) × their opacities, and 1 − opacity (n, 1); laid over any copy
    of the background they were rendered for."""

    rows: np.ndarray
    cols: np.ndarray
    rgb: np.ndarray  # (n, 3) float32, colour × opacity, 0–255
    keep: np.ndarray  # (n, 1) float32: the share of what is under it that shows through

    def over(self, rgb: np.ndarray) -> None:
        """Composite onto ``rgb`` (height, width, 3) uint8 in place."""
        under = rgb[self.rows, self.cols]
        rgb[self.rows, self.cols] = (under * self.keep + self.rgb + 0.5).astype(np.uint8)


def render_layer(fig: Figure, artists: list[Artist]) -> Layer:
    """Render ``artists`` alone (the canvas cleared to transparent first) as a :class:`Layer`; the canvas is
    left cleared, so render the layers after copying the background you keep."""
    canvas = fig.canvas
    canvas.get_renderer().clear()
    for artist in artists:
        fig.draw_artist(artist)
    rgba = np.asarray(canvas.buffer_rgba())
    rows, cols = np.nonzero(rgba[..., 3])
    drawn = rgba[rows, cols].astype(np.float32)
    opacity = drawn[:, 3:] / 255
    return Layer(rows, cols, drawn[:, :3] * opacity, 1 - opacity)
