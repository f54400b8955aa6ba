"""The findings and devices, each painted as the density it adds to the scene."""

import numpy as np

from .anatomy import blob, ramp, smooth_field
from .geometry import in_region, uniform

# --- findings --------------------------------------------------------------------------------------------
# Each painter returns the density it adds (negative to take away), at full strength; the caller scales it
# for uncertain labels. `side` is -1 or +1, or None for a central or bilateral finding.


def filled_airspace(scene, side, amount):
    """Density that fills the lung's air by `amount` (0..1) and hides the vessels there."""
    return amount * (scene.air[side] - 0.6 * scene.markings * scene.lungs[side])


def point_in_lung(scene, side, rng, rho_limit=0.7, y_range=(0.25, 0.6)):
    """A point well inside `side`'s lung: (x, y) in grid units."""
    anatomy, grid = scene.anatomy, scene.grid
    for _ in range(50):
        x, y = anatomy.midline + side * uniform(rng, 0.1, 0.34), uniform(rng, *y_range)
        row, column = min(int(y * grid.height), grid.height - 1), min(int(x * grid.width), grid.width - 1)
        if scene.rho[side][row, column] < rho_limit and scene.lungs[side][row, column] > 0.99:
            return x, y
    return anatomy.midline + side * 0.22, 0.45


def paint_effusion(scene, rng, side):
    """Fluid at the base: the costophrenic angle and hemidiaphragm lost under an opacity whose upper
    edge, the meniscus, climbs the lateral chest wall."""
    grid, anatomy = scene.grid, scene.anatomy
    u = anatomy.u(grid, side)
    level = anatomy.domes[side] - uniform(rng, 0.03, 0.13)
    meniscus = level - 0.08 * np.clip((u - 0.1) / 0.3, 0, 1) ** 2
    fluid = np.clip((grid.y - meniscus) / 0.05, 0, 1)
    return filled_airspace(scene, side, 0.95 * fluid)


def paint_pneumothorax(scene, rng, side):
    """Air between lung and chest wall at the apex and lateral side: darker, no vessels, and the
    visceral pleura as a thin white line at the collapsed lung's edge."""
    grid, anatomy = scene.grid, scene.anatomy
    rho, lung = scene.rho[side], scene.lungs[side]
    depth = uniform(rng, 0.16, 0.3) * np.clip((anatomy.domes[side] - 0.05 - grid.y) / 0.3, 0, 1)
    pleura = 1 - depth
    rim = ramp(rho - pleura, 0.01) * lung
    # Distance from the pleura in pixels (rho changes at different rates across and down the lung), so
    # that the line is equally thin all round; it fades out where the rim of air thins away to the base.
    pixels_away = (rho - pleura) / np.hypot(*np.gradient(rho))
    line = np.exp(-((pixels_away / max(1.0, 0.0012 * grid.width)) ** 2)) * np.clip(depth / 0.06, 0, 1) * lung
    return -rim * (scene.markings + 0.06) + 0.14 * line + 0.03 * (1 - rim) * lung


def paint_nodule(scene, rng, side):
    """A round, well-defined nodule or mass, densest in its middle as a sphere is."""
    grid = scene.grid
    cx, cy = point_in_lung(scene, side, rng)
    radius = uniform(rng, 0.014, 0.03)

    def draw(local):
        distance = ((local.x - cx) / radius) ** 2 + ((local.y - cy) / (radius * grid.aspect)) ** 2
        return 0.25 * np.sqrt(np.clip(1 - distance, 0, 1)) + 0.05 * ramp(1 - distance, 0.3)

    return in_region(
        grid,
        (cx - 1.2 * radius, cx + 1.2 * radius, cy - 1.2 * radius * grid.aspect, cy + 1.2 * radius * grid.aspect),
        draw,
    )


def patchy(scene, rng, side, cx, cy, rx, ry, amount):
    """Airspace opacity: a fluffy, ill-defined patch filling the air inside a region."""
    grid = scene.grid
    envelope = np.clip(blob(grid, cx, cy, rx, ry) * 1.6 - 0.3, 0, 1)
    texture = np.clip(0.6 + 0.7 * smooth_field(grid, rng, 18), 0, 1)
    return filled_airspace(scene, side, amount * envelope * texture)


def paint_consolidation(scene, rng, side):
    """A dense, lobar-looking opacity in the mid or lower zone."""
    cx, cy = point_in_lung(scene, side, rng, y_range=(0.45, 0.62))
    return patchy(scene, rng, side, cx, cy, uniform(rng, 0.09, 0.13), uniform(rng, 0.07, 0.1), 0.9)


def paint_lung_opacity(scene, rng, side):
    """One to three fainter, smaller patches."""
    density = np.zeros(scene.grid.shape, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = point_in_lung(scene, side, rng, y_range=(0.3, 0.62))
        density += patchy(scene, rng, side, cx, cy, uniform(rng, 0.04, 0.07), uniform(rng, 0.035, 0.06), 0.55)
    return density


def paint_edema(scene, rng, side):
    """Bilateral perihilar haze ('bat wings') and Kerley B lines at the lateral bases."""
    grid, anatomy = scene.grid, scene.anatomy
    density = np.zeros(grid.shape, np.float32)
    # Kerley B lines: short, thin, horizontal, 1 cm or so apart, some of them missing.
    spacing = 0.016
    present = (rng.random(int(1 / spacing) + 1) < 0.6).astype(np.float32)
    row_of_lines = present[(grid.y / spacing).astype(np.int32)]
    kerley = np.exp(-(((np.mod(grid.y, spacing) / spacing - 0.5) / 0.12) ** 2)) * row_of_lines
    for each in (-1, 1):
        haze = blob(grid, anatomy.midline + each * 0.15, anatomy.hila_y[each] + 0.04, 0.14, 0.13)
        haze *= np.clip(0.75 + 0.4 * smooth_field(grid, rng, 10), 0, 1)
        density += filled_airspace(scene, each, 0.7 * haze)
        base = ramp(anatomy.u(grid, each) - (anatomy.thorax_width / 2 - 0.03), 0.01) * (grid.y > 0.55)
        density += 0.06 * kerley * base * scene.lungs[each]
    return density


def paint_atelectasis(scene, rng, side):
    """A plate-like band across the lower zone, slightly oblique."""
    grid = scene.grid
    cx, cy = point_in_lung(scene, side, rng, rho_limit=0.8, y_range=(0.5, 0.6))
    tilt, length = uniform(rng, -0.15, 0.15), uniform(rng, 0.06, 0.1)
    along = np.abs(grid.x - cx) / length
    across = (grid.y - cy) / grid.aspect - tilt * (grid.x - cx) - 0.01 * along * along  # slightly bowed
    thickness = 0.009 * np.clip(1 - along * along, 0, 1)  # tapering to its ends
    band = ramp(thickness - np.abs(across), grid.edge(0.006))
    return filled_airspace(scene, side, 0.7 * band)


def paint_pleural_thickening(scene, rng, side):
    """A smooth, lobulated band along the lateral chest wall, from the apex down."""
    grid = scene.grid
    thickness = 0.04 + 0.09 * np.abs(smooth_field(grid, rng, 9))  # lobulated
    band = ramp(scene.rho[side] - (1 - thickness), 0.02) * ramp(scene.anatomy.domes[side] - grid.y, 0.08)
    return filled_airspace(scene, side, 0.8 * band)


def paint_devices(scene, rng, side):
    """One or two of: endotracheal and nasogastric tubes, a central venous line, a pacemaker, ECG leads."""
    kinds = rng.choice(list(DEVICES), size=int(rng.integers(1, 3)), replace=False, p=[0.35, 0.3, 0.2, 0.15])
    return sum(DEVICES[str(kind)](scene, rng) for kind in kinds)


def icu_tubes(scene, rng):
    """An endotracheal tube ending above the carina, a nasogastric tube down into the stomach."""
    grid, anatomy, mid = scene.grid, scene.anatomy, scene.anatomy.midline
    tip = uniform(rng, 0.24, 0.29)
    ett = [(mid + 0.003, 0.0), (mid, 0.1), (mid - 0.005, 0.2), (mid - 0.006, tip)]
    ng = [
        (mid + 0.012, 0.0),
        (mid + 0.016, 0.3),
        (mid + 0.03, 0.55),
        (mid + 0.07, anatomy.domes[1] + 0.06),
        (mid + 0.15, anatomy.domes[1] + 0.09),
    ]
    return 0.1 * draw_path(grid, ett, 0.014) + 0.4 * draw_path(grid, ett, 0.002) + 0.35 * draw_path(grid, ng, 0.003)


def central_line(scene, rng):
    """A jugular or subclavian central venous catheter, its tip at the cavoatrial junction."""
    mid, side = scene.anatomy.midline, -1 if rng.random() < 0.7 else 1
    tip = (mid - 0.035, uniform(rng, 0.38, 0.44))
    if rng.random() < 0.5:
        path = [(mid + side * 0.09, 0.0), (mid + side * 0.075, 0.12), (mid + side * 0.045, 0.24), tip]
    else:
        # Along the subclavian and brachiocephalic veins; the left one crosses the midline to the SVC.
        path = [
            (mid + side * 0.3, 0.2),
            (mid + side * 0.2, 0.185),
            (mid + side * 0.08, 0.22),
            (mid + (0.02 if side > 0 else -0.06), 0.3),
            tip,
        ]
    return 0.45 * draw_path(scene.grid, path, 0.0025)


def pacemaker(scene, rng):
    """A generator below the left clavicle, leads through the veins into the right atrium and ventricle."""
    grid, mid = scene.grid, scene.anatomy.midline
    cx, cy = mid + uniform(rng, 0.22, 0.27), uniform(rng, 0.2, 0.24)

    def generator(local):
        box = np.abs((local.x - cx) / 0.04) ** 4 + np.abs((local.y - cy) / (0.03 * grid.aspect)) ** 4
        return ramp(1 - box, 0.2) * (1.0 - 0.3 * ramp(0.4 - box, 0.2))

    vein = [(cx - 0.03, cy), (mid + 0.12, cy - 0.015), (mid + 0.03, 0.27), (mid - 0.03, 0.4)]
    ventricle = vein + [(mid - 0.04, 0.5), (mid + 0.04, 0.6), (mid + 0.1, 0.64)]
    atrium = vein + [(mid - 0.05, 0.48), (mid - 0.02, 0.44)]
    return (
        0.8 * in_region(grid, (cx - 0.05, cx + 0.05, cy - 0.05, cy + 0.05), generator)
        + 0.45 * draw_path(grid, ventricle, 0.003)
        + 0.45 * draw_path(grid, atrium, 0.003)
    )


def ecg_leads(scene, rng):
    """Three electrodes on the chest (rings with a centre stud), their wires running off the film."""
    grid, mid = scene.grid, scene.anatomy.midline
    density = np.zeros(grid.shape, np.float32)
    for x, y in zip((mid + rng.uniform(-0.35, 0.35, 3)).tolist(), rng.uniform(0.15, 0.8, 3).tolist()):

        def electrode(local, x=x, y=y):
            distance = np.sqrt(((local.x - x) / 0.02) ** 2 + ((local.y - y) / (0.02 * grid.aspect)) ** 2)
            return 0.3 * np.exp(-(((distance - 1) / 0.15) ** 2)) + 0.45 * ramp(0.3 - distance, 0.1)

        density += in_region(grid, (x - 0.03, x + 0.03, y - 0.03, y + 0.03), electrode)
        exit_x = 0.0 if x < mid else 1.0
        wire = [(x, y), ((x + exit_x) / 2, y + uniform(rng, -0.1, 0.1)), (exit_x, y + uniform(rng, -0.2, 0.2))]
        density += 0.25 * draw_path(grid, wire, 0.002)
    return density


def draw_path(grid, points, width):
    """A smooth curve through `points` (grid units), `width` wide in x units, about 1 along its middle.

    The curve is sampled at sub-pixel steps and splatted into its bounding box, then box-blurred to its
    width: any shape costs the same, with no distance computed for every pixel.
    """
    curve = catmull_rom(np.asarray(points, np.float64), grid)
    columns, rows = curve[:, 0] * grid.width - 0.5, curve[:, 1] * grid.height - 0.5
    step = np.hypot(np.diff(columns, append=columns[-1]), np.diff(rows, append=rows[-1]))
    radius = int(round(width * grid.width / 2))
    rows_box = slice(max(int(rows.min()) - radius - 2, 0), min(int(rows.max()) + radius + 3, grid.height))
    columns_box = slice(max(int(columns.min()) - radius - 2, 0), min(int(columns.max()) + radius + 3, grid.width))
    layer = np.zeros(grid.shape, np.float32)
    box = layer[rows_box, columns_box]
    if not box.size:
        return layer
    rows, columns = rows - rows_box.start, columns - columns_box.start
    row0, column0 = np.floor(rows).astype(np.int64), np.floor(columns).astype(np.int64)
    for d_row, d_column in ((0, 0), (0, 1), (1, 0), (1, 1)):
        r, c = row0 + d_row, column0 + d_column
        weight = (1 - np.abs(rows - r)) * (1 - np.abs(columns - c)) * step
        keep = (r >= 0) & (r < box.shape[0]) & (c >= 0) & (c < box.shape[1])
        np.add.at(box, (r[keep], c[keep]), weight[keep])
    # Blurring spreads the line's unit weight per pixel of length over its width: scale back to ~1.
    layer[rows_box, columns_box] = np.minimum(box_blur(box_blur(box, radius, 0), radius, 1) * (2 * radius + 1), 1)
    return layer


def catmull_rom(points, grid):
    """Points along a Catmull-Rom spline through `points`, about four per pixel of length."""
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    scale = np.array([grid.width, grid.height])
    pieces = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:]):
        count = max(int(np.hypot(*((p2 - p1) * scale)) * 4), 2)
        t = np.linspace(0, 1, count, endpoint=False)[:, None]
        pieces.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    return np.vstack(pieces)


def box_blur(image, radius, axis):
    """Mean over 2*radius+1 pixels along `axis`, by differences of a cumulative sum."""
    padded = np.pad(image, [(radius + 1, radius) if a == axis else (0, 0) for a in range(2)])
    total = np.cumsum(padded, axis=axis, dtype=np.float32)
    upper = np.take(total, np.arange(2 * radius + 1, total.shape[axis]), axis=axis)
    lower = np.take(total, np.arange(0, total.shape[axis] - 2 * radius - 1), axis=axis)
    return (upper - lower) / (2 * radius + 1)


PAINTERS = {
    "pleural-effusion": paint_effusion,
    "pneumothorax": paint_pneumothorax,
    "lung-lesion": paint_nodule,
    "consolidation": paint_consolidation,
    "pneumonia": paint_consolidation,
    "lung-opacity": paint_lung_opacity,
    "edema": paint_edema,
    "atelectasis": paint_atelectasis,
    "pleural-other": paint_pleural_thickening,
    "support-devices": paint_devices,
}
DEVICES = {"icu tubes": icu_tubes, "central line": central_line, "pacemaker": pacemaker, "ecg leads": ecg_leads}
