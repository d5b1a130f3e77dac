"""Drawing the Batman dataset's objects: five classes and their look-alikes, in four styles.

Every drawer paints one object on its own transparent RGBA "sprite" with PIL, in unit
coordinates scaled by a pen, from a NumPy random generator (so the same generator state gives
the same pixels). The styles are like different artists over the decades:

* ``classic``  - flat bright colours, medium black outlines, Ben-Day dots printed over them;
* ``modern``   - dark, desaturated colours, thin outlines, shading from a light source;
* ``animated`` - simplified geometric shapes, thick outlines, saturated flat colours;
* ``sketch``   - pencil lines on paper: washed-out colours, dark edges and hatching.

Class cues (what a model has to learn): ``batman_face`` a dark cowl with two pointed ears on top,
white eye slits and a skin-coloured jaw; ``bat_symbol`` a black bat silhouette on a yellow oval;
``robin_face`` a skin face with a black domino mask and black hair; ``robin_symbol`` an "R" in a
circle; ``joker_face`` a white face with green hair and a red grin. The look-alikes share one cue
and miss another: free-flying bats and birds (no oval), stars and bolts on yellow ovals, other
letters in circles, faces with coloured masks, clowns (red nose, no green hair), a purple
cat-eared cowl with goggles, plain faces.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

STYLES: tuple[str, ...] = ("classic", "modern", "animated", "sketch")
DISTRACTORS: tuple[str, ...] = ("free_bat", "bird", "other_emblem", "other_letter", "masked_face",
                                "clown_face", "cat_cowl", "plain_face")

SKINS = ((236, 188, 150), (224, 172, 130), (198, 140, 100), (250, 208, 172), (170, 115, 80))
BLACK = (18, 18, 22)


# ---------------------------------------------------------------------------------------------
# small colour and geometry tools
# ---------------------------------------------------------------------------------------------
def _jitter(rng: np.random.Generator, color, amount: int = 18) -> tuple[int, int, int]:
    c = np.asarray(color[:3], dtype=np.int64) + rng.integers(-amount, amount + 1, size=3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _mirror(points):
    """Right-half outline (x >= 0.5 drawn clockwise from the top) + its mirror image."""
    return list(points) + [(1.0 - x, y) for x, y in reversed(points)]


class _Pen:
    """ImageDraw in unit coordinates: ``px`` pixels per unit, widths in units."""

    def __init__(self, w: float, h: float, px: float):
        self.px = px
        self.img = Image.new("RGBA", (max(2, math.ceil(w * px)), max(2, math.ceil(h * px))), (0, 0, 0, 0))
        self.d = ImageDraw.Draw(self.img)

    def _p(self, pts):
        return [(x * self.px, y * self.px) for x, y in pts]

    def _w(self, width: float) -> int:
        return max(1, round(width * self.px)) if width > 0 else 0

    def poly(self, pts, fill, outline=None, width=0.0):
        self.d.polygon(self._p(pts), fill=fill, outline=outline if width > 0 else None, width=self._w(width) if outline else 1)

    def ellipse(self, box, fill, outline=None, width=0.0):
        x0, y0, x1, y1 = box
        self.d.ellipse((x0 * self.px, y0 * self.px, x1 * self.px, y1 * self.px), fill=fill,
                       outline=outline if width > 0 else None, width=self._w(width) if outline else 1)

    def chord(self, box, start, end, fill, outline=None, width=0.0):
        x0, y0, x1, y1 = box
        self.d.chord((x0 * self.px, y0 * self.px, x1 * self.px, y1 * self.px), start, end, fill=fill,
                     outline=outline if width > 0 else None, width=self._w(width) if outline else 1)

    def line(self, pts, fill, width):
        self.d.line(self._p(pts), fill=fill, width=self._w(width), joint="curve")

    def arc(self, box, start, end, fill, width):
        x0, y0, x1, y1 = box
        self.d.arc((x0 * self.px, y0 * self.px, x1 * self.px, y1 * self.px), start, end, fill=fill, width=self._w(width))


def _style_outline(style: str, rng) -> tuple[tuple[int, int, int], float]:
    """(outline colour, outline width in units) of a style."""
    if style == "animated":
        return BLACK, float(rng.uniform(0.035, 0.05))
    if style == "modern":
        return (40, 40, 48), float(rng.uniform(0.0, 0.012))
    if style == "sketch":
        return (60, 60, 60), 0.012
    return BLACK, float(rng.uniform(0.018, 0.03))


# ---------------------------------------------------------------------------------------------
# the five classes
# ---------------------------------------------------------------------------------------------
def draw_batman_face(pen: _Pen, rng, style: str) -> None:
    """Unit canvas 1 x 1.15: cowl with pointed ears, white eye slits, skin jaw."""
    ol, w = _style_outline(style, rng)
    cowls = {"classic": ((72, 84, 122), (95, 98, 110), (44, 56, 100)), "modern": ((26, 26, 32), (40, 40, 46), (22, 28, 40)),
             "animated": ((34, 38, 66), (22, 22, 28)), "sketch": ((50, 54, 70), (30, 30, 34))}[style]
    cowl = _jitter(rng, cowls[int(rng.integers(len(cowls)))], 12)
    skin = _jitter(rng, SKINS[int(rng.integers(len(SKINS)))], 10)
    ear_h = {"classic": 0.15, "modern": 0.29, "animated": 0.22, "sketch": 0.2}[style] * rng.uniform(0.75, 1.25)
    ear_lean = rng.uniform(-0.04, 0.05)
    top = 0.05 + (0.32 - ear_h)  # shorter ears: the head starts higher in the canvas
    # ears first (behind the head), then the head, then the jaw opening
    pen.poly(_mirror([(0.62, top + ear_h + 0.06), (0.70 + ear_lean, top), (0.82, top + ear_h + 0.12)]), fill=cowl, outline=ol, width=w)
    pen.ellipse((0.1, top + ear_h - 0.02, 0.9, 1.0), fill=cowl, outline=ol, width=w)
    jaw_w = {"classic": 0.22, "modern": 0.2, "animated": 0.26, "sketch": 0.22}[style] * rng.uniform(0.9, 1.1)
    jaw_top = top + ear_h + rng.uniform(0.30, 0.36)
    chin = 1.12 if style == "animated" else 1.08
    pen.poly(_mirror([(0.5, jaw_top - 0.02), (0.5 + jaw_w, jaw_top), (0.5 + jaw_w * 0.95, 0.93), (0.5 + jaw_w * 0.55, chin)]),
             fill=skin, outline=ol, width=w)
    pen.poly([(0.43, jaw_top - 0.03), (0.57, jaw_top - 0.03), (0.5, jaw_top + 0.07)], fill=cowl)  # nose of the cowl
    mouth_y = min(chin - 0.1, jaw_top + 0.22)
    if rng.random() < 0.5:  # grim straight line
        pen.line([(0.5 - jaw_w * 0.45, mouth_y), (0.5 + jaw_w * 0.45, mouth_y + rng.uniform(-0.01, 0.015))], fill=(70, 30, 30), width=0.025)
    else:  # frown (or, rarely, a grin)
        up = rng.random() < 0.25
        box = (0.5 - jaw_w * 0.5, mouth_y - 0.03, 0.5 + jaw_w * 0.5, mouth_y + 0.07)
        pen.arc(box, 20 if up else 200, 160 if up else 340, fill=(70, 30, 30), width=0.025)
    # eyes: slanted white slits (narrow for modern, big triangles for animated)
    ey = top + ear_h + rng.uniform(0.14, 0.19)
    eh = {"classic": 0.065, "modern": 0.04, "animated": 0.08, "sketch": 0.06}[style] * rng.uniform(0.85, 1.2)
    for side in (-1, 1):
        x_in, x_out = 0.5 + side * 0.06, 0.5 + side * rng.uniform(0.26, 0.31)
        pts = [(x_in, ey + eh * 0.9), (x_out, ey - eh * 0.4), (x_out - side * 0.02, ey + eh * 0.5)]
        if style != "animated":
            pts.insert(1, (x_in + side * 0.02, ey + eh * 0.1))
        pen.poly(pts, fill=(250, 250, 250), outline=ol if style == "animated" else None, width=w * 0.5)


#: The bat of the bat symbol: right half, x in [0.5, 1] (0.5 = axis), y in [0, 1].
def _bat_outline(rng, ear=0.2, scallops=3, tip_up=0.0) -> list[tuple[float, float]]:
    pts = [(0.5, 0.32), (0.54, 0.32), (0.565, 0.32 - ear), (0.59, 0.30), (0.64, 0.36),
           (0.76, 0.28 - tip_up * 0.5), (0.9, 0.16 - tip_up), (1.0, 0.10 - tip_up), (0.975, 0.45), (0.99, 0.72)]
    # scalloped trailing edge from the wing tip back to the tail
    x0, x1 = 0.99, 0.52
    for k in range(scallops):
        xa = x0 + (x1 - x0) * (k + 0.55) / scallops
        xb = x0 + (x1 - x0) * (k + 1) / scallops
        pts.append((xa, 0.56 + 0.05 * k))
        pts.append((xb, 0.80 + 0.06 * k))
    pts.append((0.5, 0.98))
    jitter = rng.uniform(-0.01, 0.01, size=(len(pts), 2))
    jitter[0, 0] = jitter[-1, 0] = 0.0  # keep the axis points on the axis
    return [(x + dx, y + dy) for (x, y), (dx, dy) in zip(pts, jitter, strict=True)]


def _bat_polygon(rng, box, **kw):
    x0, y0, x1, y1 = box
    half = _bat_outline(rng, **kw)
    return [(x0 + (x1 - x0) * x, y0 + (y1 - y0) * y) for x, y in _mirror(half)]


def draw_bat_symbol(pen: _Pen, rng, style: str) -> None:
    """Unit canvas 1.7 x 1: a black bat on a yellow oval (the classic chest emblem)."""
    ol, w = _style_outline(style, rng)
    yellow = {"classic": (250, 214, 40), "modern": (206, 164, 52), "animated": (255, 222, 0), "sketch": (240, 210, 90)}[style]
    pen.ellipse((0.02, 0.02, 1.68, 0.98), fill=_jitter(rng, yellow, 14), outline=ol, width=max(w, 0.02))
    margin = {"classic": 0.16, "modern": 0.07, "animated": 0.2, "sketch": 0.15}[style] * rng.uniform(0.85, 1.15)
    bat = _bat_polygon(rng, (0.02 + margin * 1.1, 0.18, 1.68 - margin * 1.1, 0.86),
                       ear=rng.uniform(0.12, 0.24), scallops=int(rng.integers(2, 4)),
                       tip_up=0.08 if style == "modern" else rng.uniform(-0.03, 0.05))
    pen.poly(bat, fill=_jitter(rng, BLACK, 8))


def draw_robin_face(pen: _Pen, rng, style: str) -> None:
    """Unit canvas 1 x 1.1: skin face, black hair, black domino mask with white eyes."""
    ol, w = _style_outline(style, rng)
    skin = _jitter(rng, SKINS[int(rng.integers(len(SKINS)))], 10)
    hair = _jitter(rng, (22, 20, 24), 8)
    pen.ellipse((0.08, 0.5, 0.2, 0.72), fill=skin, outline=ol, width=w * 0.6)  # ears
    pen.ellipse((0.8, 0.5, 0.92, 0.72), fill=skin, outline=ol, width=w * 0.6)
    chin = 1.06 if style != "animated" else 1.0
    pen.ellipse((0.16, 0.2, 0.84, chin), fill=skin, outline=ol, width=w)
    # hair: a black cap with a fringe of bangs; combed, spiky or with a curl
    kind = int(rng.integers(3))
    n = int(rng.integers(3, 7))
    crown = [(0.14, 0.5), (0.12, 0.28), (0.3, 0.08), (0.6, 0.04), (0.86, 0.18), (0.88, 0.48)]
    if kind == 1:  # spiky: tips poking up from the crown
        crown = [(0.14, 0.5), (0.1, 0.3), (0.2, 0.16), (0.22, 0.02), (0.36, 0.1), (0.46, -0.0), (0.56, 0.08),
                 (0.7, 0.0), (0.74, 0.12), (0.9, 0.1), (0.86, 0.26), (0.88, 0.48)]
    fringe = []
    for k in range(n + 1):
        depth = 0.38 if k % 2 == 0 else rng.uniform(0.26, 0.32)
        fringe.append((0.84 - 0.68 * k / n, depth + rng.uniform(-0.02, 0.02)))
    pen.poly([(x, max(0.0, y + rng.uniform(-0.02, 0.02))) for x, y in crown] + fringe, fill=hair, outline=ol, width=w * 0.7)
    if kind == 2 or style == "animated":  # the curl on the forehead
        pen.arc((0.42, 0.22, 0.6, 0.4), 180, 90, fill=hair, width=0.04)
    # domino mask
    my = rng.uniform(0.5, 0.56)
    mask = _jitter(rng, (16, 16, 20) if style != "modern" else (20, 34, 24), 6)
    half = [(0.5, my - 0.02), (0.66, my - 0.07), (0.86, my - 0.1 - rng.uniform(0, 0.05)), (0.8, my + 0.04), (0.66, my + 0.08), (0.5, my + 0.03)]
    pen.poly(_mirror(half), fill=mask, outline=ol if style == "animated" else None, width=w * 0.5)
    er = {"classic": 0.06, "modern": 0.045, "animated": 0.085, "sketch": 0.06}[style]
    for cx in (0.36, 0.64):
        pen.ellipse((cx - er, my - er * 0.6 - 0.01, cx + er, my + er * 0.6 - 0.01), fill=(250, 250, 250))
    pen.arc((0.38, chin - 0.3, 0.62, chin - 0.14), 20, 160, fill=(150, 50, 50), width=0.025)


#: Stroke font: letters as polylines (unit square, y down); arcs as sampled bowls.
def _bowl(x0, y0, y1, depth, n=9):
    cy, r = (y0 + y1) / 2, (y1 - y0) / 2
    return [(x0 + depth * math.sin(math.pi * k / n) + 0.0, cy - r * math.cos(math.pi * k / n)) for k in range(n + 1)]


def _letter_strokes(letter: str) -> list[list[tuple[float, float]]]:
    L, R, T, B, M = 0.22, 0.78, 0.12, 0.88, 0.5
    bowl_top = [(L, T), (0.5, T)] + _bowl(0.5, T, M, 0.26)[1:] + [(L, M)]
    strokes = {
        "R": [[(L, T), (L, B)], bowl_top, [(0.5, M), (R, B)]],
        "P": [[(L, T), (L, B)], bowl_top],
        "B": [[(L, T), (L, B)], bowl_top, [(L, M), (0.52, M)] + _bowl(0.52, M, B, 0.27)[1:] + [(L, B)]],
        "D": [[(L, T), (L, B)], [(L, T), (0.4, T)] + _bowl(0.4, T, B, 0.38)[1:] + [(L, B)]],
        "K": [[(L, T), (L, B)], [(R, T), (L, 0.56)], [(0.4, 0.44), (R, B)]],
        "F": [[(L, T), (L, B)], [(L, T), (R, T)], [(L, M), (0.66, M)]],
        "E": [[(L, T), (L, B)], [(L, T), (R, T)], [(L, M), (0.66, M)], [(L, B), (R, B)]],
        "H": [[(L, T), (L, B)], [(R, T), (R, B)], [(L, M), (R, M)]],
        "A": [[(L, B), (0.5, T), (R, B)], [(0.33, 0.6), (0.67, 0.6)]],
        "S": [[(R, T), (0.4, T)] + _bowl(0.4, T, M, -0.18)[1:] + [(0.6, M)] + _bowl(0.6, M, B, 0.18)[1:] + [(L, B)]],
    }
    return strokes[letter]


def _draw_letter(pen: _Pen, letter: str, box, color, width, slant=0.0, serif=False):
    x0, y0, x1, y1 = box

    def tr(p):
        x, y = p
        x = x + slant * (0.5 - y)
        return (x0 + (x1 - x0) * x, y0 + (y1 - y0) * y)

    for stroke in _letter_strokes(letter):
        pen.line([tr(p) for p in stroke], fill=color, width=width)
    if serif and letter not in "AS":  # serifs on the left stem
        for y in (0.12, 0.88):
            pen.line([tr((0.12, y)), tr((0.34, y))], fill=color, width=width * 0.6)


def draw_robin_symbol(pen: _Pen, rng, style: str) -> None:
    """Unit canvas 1 x 1: an "R" in a circle."""
    ol, w = _style_outline(style, rng)
    schemes = {
        "classic": ((250, 214, 40), BLACK, BLACK),
        "modern": ((24, 24, 28), (230, 190, 40), (200, 40, 40)),
        "animated": ((255, 226, 20), BLACK, (220, 30, 30)),
        "sketch": ((245, 220, 120), (50, 50, 50), (60, 60, 60)),
    }
    disc, ink, ring = schemes[style]
    ring_w = rng.uniform(0.05, 0.09)
    pen.ellipse((0.02, 0.02, 0.98, 0.98), fill=_jitter(rng, ring, 10))
    pen.ellipse((0.02 + ring_w, 0.02 + ring_w, 0.98 - ring_w, 0.98 - ring_w), fill=_jitter(rng, disc, 12))
    size = rng.uniform(0.5, 0.6)
    c = rng.uniform(-0.03, 0.03, size=2)
    box = (0.5 - size / 2 + c[0], 0.5 - size / 2 + c[1], 0.5 + size / 2 + c[0], 0.5 + size / 2 + c[1])
    _draw_letter(pen, "R", box, _jitter(rng, ink, 8), width=rng.uniform(0.07, 0.11) * (1.2 if style == "animated" else 1.0),
                 slant=rng.uniform(0.0, 0.25) if style == "modern" else rng.uniform(-0.05, 0.1), serif=style == "classic")


def draw_joker_face(pen: _Pen, rng, style: str) -> None:
    """Unit canvas 1 x 1.25: white face, green hair, red grin."""
    ol, w = _style_outline(style, rng)
    white = _jitter(rng, (246, 246, 240) if style != "modern" else (226, 226, 218), 8)
    green = _jitter(rng, {"classic": (52, 170, 60), "modern": (84, 112, 52), "animated": (30, 150, 70), "sketch": (90, 170, 90)}[style], 14)
    red = _jitter(rng, (205, 28, 36), 14)
    # hair behind the face: spiky, swept back
    kind = int(rng.integers(3))
    if kind == 2:  # curly: a cloud of green curls
        for cx, cy in ((0.2, 0.32), (0.32, 0.18), (0.5, 0.15), (0.68, 0.18), (0.8, 0.32), (0.14, 0.5), (0.86, 0.5)):
            r = rng.uniform(0.1, 0.14)
            pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=green, outline=ol, width=w * 0.5)
    else:  # spiky, or swept back to one side
        spikes = [(0.12, 0.55), (0.04, 0.32), (0.16, 0.26), (0.12, 0.08), (0.3, 0.14), (0.38, 0.0), (0.5, 0.1),
                  (0.64, 0.0), (0.7, 0.14), (0.88, 0.06), (0.86, 0.26), (0.97, 0.32), (0.88, 0.55)]
        if kind == 1:
            spikes = [(0.12, 0.55), (0.08, 0.3), (0.2, 0.12), (0.45, 0.04), (0.75, 0.04), (0.98, 0.02), (0.9, 0.16),
                      (0.99, 0.24), (0.9, 0.3), (0.95, 0.42), (0.88, 0.55)]
        spikes = [(x + rng.uniform(-0.03, 0.03), y + rng.uniform(-0.03, 0.03)) for x, y in spikes]
        pen.poly(spikes, fill=green, outline=ol, width=w * 0.7)
    if style == "animated":  # long pointed chin
        pen.poly([(0.2, 0.35), (0.8, 0.35), (0.78, 0.85), (0.5, 1.23), (0.22, 0.85)], fill=white, outline=ol, width=w)
        pen.ellipse((0.2, 0.16, 0.8, 0.6), fill=white)
    else:
        pen.ellipse((0.18, 0.16, 0.82, 1.2), fill=white, outline=ol, width=w)
    pen.poly([(0.18, 0.36), (0.3, 0.22), (0.5, 0.3), (0.7, 0.22), (0.82, 0.36), (0.8, 0.26), (0.5, 0.16), (0.2, 0.26)], fill=green)
    # eyes: dark sockets for modern, small dark eyes with arched brows otherwise
    for cx in (0.36, 0.64):
        if style == "modern":
            pen.ellipse((cx - 0.09, 0.46, cx + 0.09, 0.6), fill=(40, 36, 44))
        pen.ellipse((cx - 0.045, 0.5, cx + 0.045, 0.56), fill=(30, 30, 30))
        pen.arc((cx - 0.1, 0.42, cx + 0.1, 0.56), 200, 340, fill=(40, 30, 50), width=0.02)
    # the grin: a wide red chord (teeth for animated, smeared scars for modern)
    gy = 0.78 if style != "animated" else 0.7
    gw = rng.uniform(0.22, 0.31)
    if rng.random() < 0.3:  # a thick crescent instead of an open mouth
        pen.arc((0.5 - gw, gy - 0.2, 0.5 + gw, gy + 0.12), 15, 165, fill=red, width=rng.uniform(0.04, 0.07))
    else:
        pen.chord((0.5 - gw, gy - 0.14, 0.5 + gw, gy + 0.14), 0, 180, fill=red, outline=ol if style == "animated" else None, width=w * 0.5)
    if style == "animated":
        pen.line([(0.5 - gw * 0.85, gy + 0.02), (0.5 + gw * 0.85, gy + 0.02)], fill=(250, 250, 250), width=0.03)
    if style == "modern":
        for side in (-1, 1):
            pen.line([(0.5 + side * gw * 0.9, gy + 0.02), (0.5 + side * (gw + 0.1), gy - 0.1)], fill=red, width=0.035)


# ---------------------------------------------------------------------------------------------
# look-alikes (never labelled)
# ---------------------------------------------------------------------------------------------
def draw_free_bat(pen: _Pen, rng, style: str) -> None:
    """A flying bat without the oval (canvas 1.7 x 0.9)."""
    color = [(20, 20, 20), (70, 40, 30), (60, 30, 80), (40, 40, 60)][int(rng.integers(4))]
    pen.poly(_bat_polygon(rng, (0.05, 0.05, 1.65, 0.85), ear=rng.uniform(0.05, 0.25), scallops=int(rng.integers(2, 5)),
                          tip_up=rng.uniform(-0.1, 0.15)), fill=_jitter(rng, color, 10))


def draw_bird(pen: _Pen, rng, style: str) -> None:
    """A gull-like bird or a crow silhouette (canvas 1.7 x 0.9)."""
    color = [(20, 20, 20), (80, 80, 90), (110, 70, 40)][int(rng.integers(3))]
    if rng.random() < 0.5:  # gull: two arcs
        pen.line([(0.05, 0.6), (0.45, 0.15), (0.85, 0.55), (1.25, 0.15), (1.65, 0.6)], fill=_jitter(rng, color), width=0.08)
    else:  # crow: body, head, beak, spread wings
        c = _jitter(rng, color)
        pen.ellipse((0.6, 0.35, 1.1, 0.6), fill=c)
        pen.ellipse((1.0, 0.25, 1.22, 0.47), fill=c)
        pen.poly([(1.2, 0.33), (1.38, 0.38), (1.2, 0.42)], fill=(200, 150, 40))
        pen.poly([(0.7, 0.4), (0.25, 0.05), (0.45, 0.1), (0.15, 0.2), (0.9, 0.45)], fill=c)
        pen.poly([(0.6, 0.5), (0.1, 0.75), (0.35, 0.6), (0.05, 0.55), (0.7, 0.42)], fill=c)


def draw_other_emblem(pen: _Pen, rng, style: str) -> None:
    """A star, bolt or diamond on a yellow-ish oval (canvas 1.7 x 1)."""
    ol, w = _style_outline(style, rng)
    pen.ellipse((0.02, 0.02, 1.68, 0.98), fill=_jitter(rng, (245, 205, 50), 25), outline=ol, width=max(w, 0.02))
    kind = int(rng.integers(3))
    ink = _jitter(rng, [BLACK, (180, 30, 30), (30, 60, 160)][int(rng.integers(3))], 8)
    if kind == 0:
        pts = [(0.85 + 0.38 * r * math.sin(2 * math.pi * k / 10), 0.52 - 0.38 * r * math.cos(2 * math.pi * k / 10))
               for k, r in zip(range(10), [1, 0.42] * 5, strict=True)]
    elif kind == 1:
        pts = [(0.95, 0.12), (0.62, 0.55), (0.84, 0.55), (0.72, 0.9), (1.08, 0.42), (0.88, 0.42), (1.02, 0.12)]
    else:
        pts = [(0.85, 0.12), (1.3, 0.5), (0.85, 0.88), (0.4, 0.5)]
    pen.poly(pts, fill=ink)


def draw_other_letter(pen: _Pen, rng, style: str) -> None:
    """A letter other than R in a circle (canvas 1 x 1); P and B are the hard ones."""
    letter = "PBKDFEHAS"[int(rng.integers(9))]
    palette = [(250, 214, 40), BLACK, (220, 30, 30), (30, 80, 200), (250, 250, 250), (40, 150, 60)]
    i, j = rng.choice(len(palette), size=2, replace=False)
    pen.ellipse((0.02, 0.02, 0.98, 0.98), fill=_jitter(rng, palette[int(j)]))
    pen.ellipse((0.09, 0.09, 0.91, 0.91), fill=_jitter(rng, palette[int(i)]))
    ink = palette[int(j)] if rng.random() < 0.7 else BLACK
    _draw_letter(pen, letter, (0.23, 0.23, 0.77, 0.77), _jitter(rng, ink, 8), width=rng.uniform(0.07, 0.11),
                 slant=rng.uniform(-0.05, 0.2), serif=bool(rng.random() < 0.3))


def _plain_head(pen: _Pen, rng, skin, hair, ol, w):
    pen.ellipse((0.08, 0.5, 0.2, 0.72), fill=skin)
    pen.ellipse((0.8, 0.5, 0.92, 0.72), fill=skin)
    pen.ellipse((0.16, 0.2, 0.84, 1.06), fill=skin, outline=ol, width=w)
    pen.chord((0.12, 0.08, 0.88, 0.72), 180, 360, fill=hair, outline=ol, width=w * 0.6)
    pen.arc((0.38, 0.76, 0.62, 0.92), 20, 160, fill=(150, 50, 50), width=0.025)


def draw_masked_face(pen: _Pen, rng, style: str) -> None:
    """A face with a coloured (not black) domino mask and non-black hair (canvas 1 x 1.1)."""
    ol, w = _style_outline(style, rng)
    skin = SKINS[int(rng.integers(len(SKINS)))]
    hair = [(230, 200, 90), (120, 70, 30), (190, 80, 30), (140, 140, 140)][int(rng.integers(4))]
    _plain_head(pen, rng, _jitter(rng, skin, 8), _jitter(rng, hair), ol, w)
    mask = [(200, 30, 30), (30, 60, 190), (120, 40, 150), (240, 130, 20), (30, 150, 60)][int(rng.integers(5))]
    half = [(0.5, 0.52), (0.66, 0.47), (0.86, 0.44), (0.8, 0.58), (0.66, 0.62), (0.5, 0.57)]
    pen.poly(_mirror(half), fill=_jitter(rng, mask))
    for cx in (0.36, 0.64):
        pen.ellipse((cx - 0.06, 0.5, cx + 0.06, 0.57), fill=(250, 250, 250))


def draw_clown_face(pen: _Pen, rng, style: str) -> None:
    """A white clown face: red round nose, orange/blue/purple hair tufts (canvas 1 x 1.1)."""
    ol, w = _style_outline(style, rng)
    hair = _jitter(rng, [(240, 120, 20), (40, 80, 200), (140, 50, 160), (220, 40, 40)][int(rng.integers(4))])
    pen.ellipse((0.0, 0.25, 0.38, 0.7), fill=hair)
    pen.ellipse((0.62, 0.25, 1.0, 0.7), fill=hair)
    pen.ellipse((0.16, 0.15, 0.84, 1.06), fill=(246, 246, 240), outline=ol, width=w)
    for cx in (0.36, 0.64):
        pen.ellipse((cx - 0.05, 0.44, cx + 0.05, 0.54), fill=(30, 30, 120))
    pen.ellipse((0.42, 0.56, 0.58, 0.72), fill=_jitter(rng, (220, 20, 30)))
    pen.chord((0.3, 0.66, 0.7, 0.94), 0, 180, fill=_jitter(rng, (220, 40, 60)))


def draw_cat_cowl(pen: _Pen, rng, style: str) -> None:
    """A purple cowl with short cat ears, round goggles, skin jaw and red lips (canvas 1 x 1.15)."""
    ol, w = _style_outline(style, rng)
    cowl = _jitter(rng, [(90, 40, 120), (60, 60, 70), (120, 50, 100)][int(rng.integers(3))], 10)
    pen.poly(_mirror([(0.6, 0.32), (0.74, 0.12), (0.84, 0.38)]), fill=cowl, outline=ol, width=w)
    pen.ellipse((0.1, 0.22, 0.9, 1.0), fill=cowl, outline=ol, width=w)
    skin = SKINS[int(rng.integers(len(SKINS)))]
    pen.poly(_mirror([(0.5, 0.66), (0.72, 0.66), (0.68, 0.95), (0.6, 1.08)]), fill=_jitter(rng, skin, 8))
    lens = _jitter(rng, [(90, 220, 120), (240, 220, 60), (200, 80, 80)][int(rng.integers(3))])
    for cx in (0.33, 0.67):
        pen.ellipse((cx - 0.13, 0.42, cx + 0.13, 0.62), fill=(30, 30, 30))
        pen.ellipse((cx - 0.1, 0.45, cx + 0.1, 0.59), fill=lens)
    pen.chord((0.4, 0.86, 0.6, 0.96), 0, 360, fill=(200, 30, 50))


def draw_plain_face(pen: _Pen, rng, style: str) -> None:
    """An unmasked face (canvas 1 x 1.1)."""
    ol, w = _style_outline(style, rng)
    hair = [(30, 25, 20), (230, 200, 90), (120, 70, 30), (190, 80, 30)][int(rng.integers(4))]
    _plain_head(pen, rng, _jitter(rng, SKINS[int(rng.integers(len(SKINS)))], 8), _jitter(rng, hair), ol, w)
    for cx in (0.36, 0.64):
        pen.ellipse((cx - 0.035, 0.5, cx + 0.035, 0.57), fill=(40, 30, 30))


#: name -> (drawer, canvas width, canvas height) in units.
DRAWERS = {
    "batman_face": (draw_batman_face, 1.0, 1.15),
    "bat_symbol": (draw_bat_symbol, 1.7, 1.0),
    "robin_face": (draw_robin_face, 1.0, 1.1),
    "robin_symbol": (draw_robin_symbol, 1.0, 1.0),
    "joker_face": (draw_joker_face, 1.0, 1.25),
    "free_bat": (draw_free_bat, 1.7, 0.9),
    "bird": (draw_bird, 1.7, 0.9),
    "other_emblem": (draw_other_emblem, 1.7, 1.0),
    "other_letter": (draw_other_letter, 1.0, 1.0),
    "masked_face": (draw_masked_face, 1.0, 1.1),
    "clown_face": (draw_clown_face, 1.0, 1.1),
    "cat_cowl": (draw_cat_cowl, 1.0, 1.15),
    "plain_face": (draw_plain_face, 1.0, 1.1),
}


# ---------------------------------------------------------------------------------------------
# style post-processing and the finished sprite
# ---------------------------------------------------------------------------------------------
def _ben_day(img: Image.Image, rng) -> Image.Image:
    """Classic print: a fine dot screen darkening the colours a little."""
    w, h = img.size
    period = int(rng.integers(4, 7))
    yy, xx = np.mgrid[0:h, 0:w]
    dots = ((xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2) < (period * 0.3) ** 2
    arr = np.asarray(img).copy()
    arr[..., :3][dots] = (arr[..., :3][dots] * 0.8).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


def _shade(img: Image.Image, rng) -> Image.Image:
    """Modern: light from one side, the far side falls into shadow."""
    w, h = img.size
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    t = ((xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle)) + 0.5
    factor = np.clip(1.1 - 0.5 * t, 0.55, 1.1)
    arr = np.asarray(img).astype(np.float32)
    arr[..., :3] = np.clip(arr[..., :3] * factor[..., None], 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "RGBA")


def _sketch(img: Image.Image, rng) -> Image.Image:
    """Pencil on paper: washed colours, dark edges, diagonal hatching inside the shape."""
    arr = np.asarray(img).astype(np.float32)
    rgb, alpha = arr[..., :3], arr[..., 3]
    gray = Image.fromarray(rgb.mean(axis=2).astype(np.uint8), "L")
    edges = np.asarray(gray.filter(ImageFilter.FIND_EDGES)).astype(np.float32)
    edges = np.maximum(edges, np.asarray(Image.fromarray(alpha.astype(np.uint8)).filter(ImageFilter.FIND_EDGES)))
    paper = np.array([248, 244, 232], np.float32)
    washed = 0.45 * rgb + 0.55 * paper
    h, w = alpha.shape
    yy, xx = np.mgrid[0:h, 0:w]
    period = int(rng.integers(5, 9))
    hatch = ((xx + yy) % period) == 0
    dark = rgb.mean(axis=2) < 110  # hatch only the dark areas, like a pencil would
    washed[hatch & dark] *= 0.55
    ink = np.clip(edges / 60.0, 0, 1)[..., None]
    out = washed * (1 - ink) + np.array([45, 45, 50], np.float32) * ink
    return Image.fromarray(np.dstack([out, alpha]).astype(np.uint8), "RGBA")


def render_sprite(name: str, style: str, rng, size_px: float, angle: float = 0.0, aspect_jitter: float = 0.25) -> Image.Image:
    """One object on a transparent RGBA image.

    Parameters
    ----------
    name : str
        A class (``CLASSES``) or a look-alike (``DISTRACTORS``).
    style : str
        One of ``STYLES``.
    size_px : float
        Length of the longer side of the unrotated drawing, in pixels.
    angle : float
        Counter-clockwise rotation in degrees (the canvas grows to hold the rotated drawing).
    aspect_jitter : float
        Width and height are scaled by ``exp(u / 2)``, ``u`` uniform in ``[-aspect_jitter, aspect_jitter]``.
    """
    draw, w, h = DRAWERS[name]
    supersample = 2  # draw at twice the size and shrink: cheap anti-aliasing
    px = supersample * size_px / max(w, h)
    pen = _Pen(w, h, px)
    draw(pen, rng, style)
    img = pen.img
    if style == "classic":
        img = _ben_day(img, rng)
    elif style == "modern":
        img = _shade(img, rng)
    elif style == "sketch":
        img = _sketch(img, rng)
    # a little squash or stretch per instance (artists differ in proportions too)
    sx, sy = np.exp(rng.uniform(-aspect_jitter, aspect_jitter, size=2) / 2)
    img = img.resize((max(1, round(img.width * sx / supersample)), max(1, round(img.height * sy / supersample))), Image.LANCZOS)
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=True)
    return img

