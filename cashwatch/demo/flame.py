"""A procedural flame and smoke plume, drawn onto a frame region.

The flame is a teardrop-shaped intensity field broken up by two noise textures that
scroll upwards at different speeds (licking tongues), with its height wobbling at a few
incommensurate frequencies (flicker at ~3–9 Hz). Intensity maps to colour through a
black-body-like ramp: dark red at the edges, orange, yellow, near-white in the core.
Smoke is a slower noise texture in translucent grey above it. All of it is computed on
the flame's own small region, never on the whole frame.
"""

from __future__ import annotations

import cv2
import numpy as np

# Flicker: height wobble as (frequency Hz, amplitude, phase); the sum stays within ±0.25.
_FLICKER = ((3.1, 0.09, 0.0), (5.3, 0.07, 1.3), (8.7, 0.05, 2.1), (1.7, 0.04, 0.4))
# Colour ramp stops (intensity 0..1 -> BGR).
_RAMP = (
    (0.00, (0, 0, 110)),
    (0.25, (0, 40, 210)),
    (0.50, (0, 130, 255)),
    (0.75, (40, 210, 255)),
    (1.00, (190, 250, 255)),
)
_SMOKE_BGR = (95, 95, 100)


def _noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random texture in 0..1 that wraps vertically, so it can scroll forever."""
    height, width = shape
    pad = int(np.ceil(3 * sigma))
    # blurring a vertically wrapped copy makes the top and bottom rows meet seamlessly
    raw = np.pad(rng.random((height, width), dtype=np.float32), ((pad, pad), (0, 0)), mode="wrap")
    tile = cv2.GaussianBlur(raw, (0, 0), sigma)[pad : pad + height]
    low, high = float(tile.min()), float(tile.max())
    return (tile - low) / max(high - low, 1e-6)


def _colour_lut() -> np.ndarray:
    """(256, 1, 3) uint8 table for `cv2.LUT`: intensity level -> flame colour."""
    stops = np.array([s for s, _ in _RAMP], np.float32)
    colours = np.array([c for _, c in _RAMP], np.float32)
    levels = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    table = np.stack([np.interp(levels, stops, colours[:, i]) for i in range(3)], axis=1)
    return np.round(table).astype(np.uint8).reshape(256, 1, 3)


def _scrolled(texture: np.ndarray, shift: int) -> np.ndarray:
    """`texture` (stored twice over, stacked) scrolled up by `shift` rows, without a copy."""
    rows = texture.shape[0] // 2
    start = shift % rows
    return texture[start : start + rows]


class FlameRenderer:
    """Draws a flame of `size_wh` (its full-grown box) whose base centre is given per call.

    The flame's shape is computed at half resolution and scaled up: flames are soft, and
    it keeps a frame's cost at a millisecond or two.

    >>> import numpy as np
    >>> flame = FlameRenderer((60, 80), seed=1)
    >>> frame = np.zeros((120, 120, 3), np.uint8)
    >>> flame.draw(frame, base_xy=(60, 110), t=1.0, growth=1.0)
    >>> bool(frame[..., 2].max() > 200)
    True
    """

    def __init__(self, size_wh: tuple[int, int], *, seed: int = 0) -> None:
        width, height = size_wh
        if width < 8 or height < 8:
            raise ValueError(f"flame size_wh must be at least 8x8 px, got {size_wh}")
        self.size_wh = (width, height)
        small_w, small_h = width // 2, height // 2
        rng = np.random.default_rng(seed)
        self._coarse = np.vstack([_noise((small_h, small_w), max(1.5, small_w / 14), rng)] * 2)
        self._fine = np.vstack([_noise((small_h, small_w), max(0.8, small_w / 40), rng)] * 2)
        self._lut = _colour_lut()
        self._u = np.tile(np.linspace(-1.0, 1.0, small_w, dtype=np.float32), (small_h, 1))
        # v: 0 at the base (bottom row), 1 at the top of the full-grown flame
        self._v = np.tile(np.linspace(1.0, 0.0, small_h, dtype=np.float32)[:, None], (1, small_w))
        self._smoke = _Smoke((width * 2, height), rng)

    def draw(self, frame: np.ndarray, base_xy: tuple[int, int], t: float, growth: float) -> None:
        """Draw smoke then flame on `frame` in place; `growth` 0 draws nothing, 1 full size."""
        if growth <= 0.0:
            return
        width, height = self.size_wh
        self._smoke.draw(frame, (base_xy[0], base_xy[1] - height // 2), t, growth)
        small = self._intensity(t, growth)
        intensity = cv2.resize(small, self.size_wh, interpolation=cv2.INTER_LINEAR)
        alpha = np.minimum(intensity * 4.0, 1.0)
        levels = (intensity * 255.0).astype(np.uint8)
        colour = cv2.LUT(cv2.merge([levels, levels, levels]), self._lut)
        _blend(frame, colour, alpha, (base_xy[0] - width // 2, base_xy[1] - height))

    def _intensity(self, t: float, growth: float) -> np.ndarray:
        """Half-resolution flame intensity in 0..1 at time `t`."""
        flicker = sum(a * np.sin(2 * np.pi * f * t + p) for f, a, p in _FLICKER)
        v = self._v * np.float32(1.0 / max(growth * (1.0 + flicker), 1e-3))
        below_top = np.clip(1.0 - v, 0.0, 1.0)
        sway = np.float32(0.12 * np.sin(2 * np.pi * 1.3 * t)) * v
        half_width = np.sqrt(below_top) * np.float32(0.85 * min(1.0, 0.4 + growth)) + 1e-3
        shape = np.clip(1.0 - ((self._u - sway) / half_width) ** 2, 0.0, 1.0)
        shape *= below_top**0.35
        rows = self._v.shape[0]
        coarse = _scrolled(self._coarse, int(t * rows * 1.6))
        fine = _scrolled(self._fine, int(t * rows * 2.9))
        field = shape * (0.175 + 0.9 * coarse + 0.35 * fine)
        clipped: np.ndarray = np.clip((field - 0.3) * np.float32(1 / 0.7), 0.0, 1.0)
        return clipped


class _Smoke:
    """Translucent grey billows rising above the flame, slower than the flame's tongues."""

    def __init__(self, size_wh: tuple[int, int], rng: np.random.Generator) -> None:
        width, height = size_wh
        self.size_wh = size_wh
        self._texture = np.vstack([_noise((height, width), max(3.0, width / 16), rng)] * 2)
        fade_y = np.sin(np.linspace(0.0, np.pi, height, dtype=np.float32))[:, None]
        fade_x = np.sin(np.linspace(0.0, np.pi, width, dtype=np.float32))[None, :]
        self._envelope = (0.9 * fade_y * fade_x).astype(np.float32)
        self._colour = np.full((height, width, 3), _SMOKE_BGR, np.uint8)

    def draw(
        self, frame: np.ndarray, bottom_centre_xy: tuple[int, int], t: float, growth: float
    ) -> None:
        width, height = self.size_wh
        texture = _scrolled(self._texture, -int(t * height * 0.35))
        alpha = np.clip(texture - 0.35, 0.0, 1.0) * self._envelope * np.float32(growth)
        _blend(
            frame,
            self._colour,
            alpha,
            (bottom_centre_xy[0] - width // 2, bottom_centre_xy[1] - height),
        )


def _blend(
    frame: np.ndarray, colour: np.ndarray, alpha: np.ndarray, top_left: tuple[int, int]
) -> None:
    """frame = frame * (1 - alpha) + colour * alpha over a region, clipped at the edges."""
    x0, y0 = top_left
    h, w = alpha.shape[:2]
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    if left >= right or top >= bottom:
        return
    src = (slice(top - y0, bottom - y0), slice(left - x0, right - x0))
    weight = np.ascontiguousarray(alpha[src], np.float32)
    region = frame[top:bottom, left:right]
    region[:] = cv2.blendLinear(region, np.ascontiguousarray(colour[src]), 1.0 - weight, weight)
