"""Synthetic chest radiographs as DX DICOM files, for the demo, tests and benchmarks (no patient images can
be had offline). Pure code: no models, no database. Deterministic: the same seed gives the same bytes.

The image is built as a map of "density" (0 = direct exposure, about 1 = bone over soft tissue) on a grid
whose x runs 0..1 across the width and y 0..1 down the height, so that the chest fills any requested size.
The patient faces the viewer: the patient's right is on the image's left. Every layer is whole-array numpy.
"""

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from readerstudy.labels import CHEXPERT_LABELS

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
MAX_VALUE = 4095  # 12 bits stored
SLUGS = [slug for slug, _ in CHEXPERT_LABELS]
FINDINGS = [slug for slug in SLUGS if slug not in ("no-finding", "support-devices")]
# How often each finding is drawn for an abnormal case, roughly as common as in CheXpert.
FINDING_WEIGHTS = {
    "lung-opacity": 4, "pleural-effusion": 4, "cardiomegaly": 3, "atelectasis": 3, "edema": 3,
    "consolidation": 2, "pneumothorax": 2, "lung-lesion": 2, "pneumonia": 1, "enlarged-cardiomediastinum": 1,
    "fracture": 1, "pleural-other": 1,
}
# Findings that lie on one side; effusions may lie on both.
LATERAL_FINDINGS = {"pleural-effusion", "pneumothorax", "lung-lesion", "consolidation", "pneumonia",
                    "lung-opacity", "atelectasis", "fracture", "pleural-other"}
# Findings a report often denies in so many words ("no pneumothorax"): the source of CheXpert's zeros.
OFTEN_DENIED = ["pneumothorax", "pleural-effusion", "consolidation", "edema"]
UNCERTAIN_STRENGTH = 0.55  # an uncertain label is drawn subtle, as the reader who hedged saw it


# --- cases, labels.csv ---------------------------------------------------------------------------------

def make_synthetic_cases(out_dir, count=12, seed=0, size=(2000, 2500)):
    """Write `count` cases (sub-folders case-0001, … each with frontal.dcm) and OUT/labels.csv.

    `size` is (width, height). Returns [(case id, {slug: 1 | 0 | -1 | None})].
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = size
    cases = []
    for index in range(count):
        truth_rng, image_rng, file_rng = (np.random.default_rng([seed, index, stream]) for stream in range(3))
        truth, sides = choose_truth(truth_rng)
        pixels = render_chest(image_rng, width, height, drawn_findings(truth), sides)
        monochrome1 = file_rng.random() < 0.2  # some vendors store radiographs inverted
        view_position = view_position_for(truth, file_rng)
        folder = out_dir / case_id_for(index)
        folder.mkdir(exist_ok=True)
        write_dicom(folder / "frontal.dcm", pixels, seed, index, monochrome1, file_rng, view_position)
        cases.append((case_id_for(index), truth))
    write_labels_csv(out_dir / "labels.csv", cases)
    return cases


def case_id_for(index):
    return f"case-{index + 1:04d}"


def choose_truth(rng):
    """Labels for one case and the side of each lateral finding: ({slug: 1|0|-1|None}, {slug: side}).

    About a third are normal, about one in eight has only a line or tube, the rest one to three findings;
    the first finding is certain (so every abnormal case is abnormal), later ones uncertain now and then.
    """
    truth = dict.fromkeys(SLUGS)
    kind = rng.random()
    if kind < 0.45:
        truth["no-finding"] = 1
        if kind >= 0.33:
            truth["support-devices"] = 1
    else:
        weights = np.array([FINDING_WEIGHTS[slug] for slug in FINDINGS], dtype=float)
        chosen = rng.choice(FINDINGS, size=int(rng.integers(1, 4)), replace=False, p=weights / weights.sum())
        for position, slug in enumerate(chosen):
            truth[str(slug)] = -1 if position and rng.random() < 0.15 else 1
        if rng.random() < 0.3:
            truth["support-devices"] = 1
    denied = [slug for slug in OFTEN_DENIED if truth[slug] is None]
    if rng.random() < 0.25:
        truth[str(rng.choice(denied))] = 0
    return truth, choose_sides(rng, truth)


def choose_sides(rng, truth):
    """The patient's side ('right', 'left', or for an effusion now and then 'both') of each lateral finding."""
    sides = {}
    for slug in sorted(LATERAL_FINDINGS):
        side = "right" if rng.random() < 0.5 else "left"
        both = slug == "pleural-effusion" and rng.random() < 0.2
        if truth[slug] in (1, -1):
            sides[slug] = "both" if both else side
    return sides


def drawn_findings(truth):
    """What the image shows: {slug: strength}, uncertain labels subtle; blank and 0 labels not at all."""
    return {slug: 1.0 if value == 1 else UNCERTAIN_STRENGTH
            for slug, value in truth.items() if value in (1, -1) and slug != "no-finding"}


def view_position_for(truth, rng):
    """Portable AP films are the rule in patients with lines and tubes, PA otherwise."""
    return "AP" if rng.random() < (0.7 if truth["support-devices"] == 1 else 0.1) else "PA"


def write_labels_csv(path, cases):
    """CheXpert's CSV convention: a column per label headed by its name; 1, 0, -1 or blank."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", *(name for _, name in CHEXPERT_LABELS)])
        for case_id, truth in cases:
            writer.writerow([case_id, *("" if truth[slug] is None else truth[slug] for slug in SLUGS)])


# --- DICOM -----------------------------------------------------------------------------------------------

def case_uids(seed, index):
    """Study, series and instance UIDs hashed from the seed and case index: the same run, the same UIDs."""
    return {kind: generate_uid(entropy_srcs=[f"readerstudy-synthetic-cxr:{seed}:{index}:{kind}"])
            for kind in ("study", "series", "instance")}


def write_dicom(path, pixels, seed, index, monochrome1, rng, view_position=None):
    """Save `pixels` (presentation values, bright = dense) as a de-identified DX For Presentation file.

    MONOCHROME1 files store the inverted values, so that a viewer that honours the photometric
    interpretation shows the same picture. `rng` draws the detector pixel spacing and, if not given, the view.
    """
    view_position = view_position or ("AP" if rng.random() < 0.2 else "PA")
    spacing_mm = detector_width_mm(rng) / pixels.shape[1]
    ds = dx_dataset(pixels, case_uids(seed, index), monochrome1, spacing_mm, view_position)
    ds.save_as(path, enforce_file_format=True)


def detector_width_mm(rng):
    """A full-size (2000 column) image then has 0.139–0.175 mm pixels, as flat-panel detectors do."""
    return float(rng.uniform(278, 350))


def dx_dataset(pixels, uids, monochrome1, spacing_mm, view_position):
    height, width = pixels.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = uids["instance"]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = DX_FOR_PRESENTATION, uids["instance"]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids["study"], uids["series"]
    # Type 2 patient and study attributes are present but empty: there is no patient, date or institution.
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "AccessionNumber", "ReferringPhysicianName", "StudyID", "Manufacturer"):
        setattr(ds, keyword, "")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic image, no patient"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DX", 1, 1
    ds.StudyDescription = ds.SeriesDescription = f"CHEST {view_position}"
    ds.BodyPartExamined, ds.ViewPosition = "CHEST", view_position
    ds.PatientOrientation = ["L", "F"]  # columns run to the patient's left, rows to the feet
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    spacing = f"{spacing_mm:.4f}"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [spacing, spacing]
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PixelIntensityRelationship = "LOG"
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    # Sign -1: higher stored values mean less X-ray reached the detector (dense is bright, MONOCHROME2).
    ds.PixelIntensityRelationshipSign = 1 if monochrome1 else -1
    ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"
    stored = MAX_VALUE - pixels if monochrome1 else pixels
    centers, widths = windows_for(pixels)
    # Windows apply to stored values, before MONOCHROME1's inversion.
    ds.WindowCenter = [MAX_VALUE - c if monochrome1 else c for c in centers]
    ds.WindowWidth = widths
    ds.WindowCenterWidthExplanation = ["DEFAULT", "FULL"]
    ds.PixelData = stored.astype("<u2").tobytes()
    return ds


def windows_for(pixels):
    """A window spanning the image's 0.5–99.5th percentile values, and the whole 12-bit range."""
    low, high = np.percentile(pixels[::4, ::4], [0.5, 99.5])
    return [int(round((low + high) / 2)), 2048], [max(int(round(high - low)), 2), 4096]


# --- the picture -----------------------------------------------------------------------------------------

def uniform(rng, low, high):
    """A Python float: a numpy float64 scalar would quietly turn every float32 layer it touches into
    float64, doubling the cost of the whole render."""
    return float(rng.uniform(low, high))


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates, broadcastable: x (1, columns) across, y (rows, 1) down, both 0..1 over the
    whole image. `width` and `height` stay the whole image's when x and y are cropped to a region."""
    width: int
    height: int
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, width, height):
        x = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
        y = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
        return cls(width, height, x, y)

    @property
    def shape(self):
        return self.y.shape[0], self.x.shape[1]

    @property
    def aspect(self):
        """Multiply a length in x units by this to get the same physical length in y units."""
        return self.width / self.height

    def edge(self, size):
        """A soft-edge width in x units, never under a pixel and a half so that small images stay smooth."""
        return max(size, 1.5 / self.width)

    def region(self, x0, x1, y0, y1):
        """The pixels of a box (grid units), as (row slice, column slice, the grid cropped to them)."""
        columns = pixel_span(x0, x1, self.width)
        rows = pixel_span(y0, y1, self.height)
        return rows, columns, replace(self, x=self.x[:, columns], y=self.y[rows])


def pixel_span(start, stop, size):
    """The pixels from `start` to `stop` (0..1 units) of an axis `size` pixels long, clipped to it."""
    return slice(int(np.clip(np.floor(start * size), 0, size)), int(np.clip(np.ceil(stop * size), 0, size)))


def in_region(grid, box, draw):
    """A whole-image layer that is zero outside `box`: `draw` runs on the box's pixels only."""
    rows, columns, local = grid.region(*box)
    layer = np.zeros(grid.shape, np.float32)
    if local.x.size and local.y.size:
        layer[rows, columns] = draw(local)
    return layer


@dataclass(frozen=True)
class Anatomy:
    """One patient's build, in grid units (Python floats). Sides are the patient's: right -1, left +1."""
    midline: float
    lung_centre: float  # each lung's centre, as distance from the midline
    lung_half_width: float  # from the centre to the lateral chest wall
    lung_top: float  # the apices
    lung_centre_y: float
    domes: dict  # side -> y of the top of that hemidiaphragm
    dome_curve: float  # 1 / the dome's radius
    heart_right: float  # how far the heart reaches right and left of the midline
    heart_left: float
    heart_top: float
    mediastinum: float  # half width of the upper mediastinum
    hila_y: dict
    rib_top: float
    rib_spacing: float
    soft_tissue: float
    air: float

    @property
    def thorax_width(self):
        return 2 * (self.lung_centre + self.lung_half_width)

    @property
    def cardiothoracic_ratio(self):
        return (self.heart_right + self.heart_left) / self.thorax_width

    def u(self, grid, side):
        """Distance from the midline towards `side`'s chest wall (negative across the midline)."""
        return side * (grid.x - self.midline)


SIDES = {"right": -1, "left": 1}


def draw_anatomy(rng):
    """A patient's build: small variations around an adult chest filmed on a 35 x 43 cm detector."""
    jitter = rng.normal(0, 1, 16).tolist()
    lung_half_width = 0.2 + 0.008 * jitter[1]
    thorax = 2 * (0.19 + lung_half_width)
    ctr = 0.43 + 0.02 * jitter[2]  # a normal cardiothoracic ratio
    right_share = 0.37 + 0.025 * jitter[3]
    dome = 0.665 + 0.012 * jitter[4]
    return Anatomy(
        midline=0.5 + 0.006 * jitter[0], lung_centre=0.19, lung_half_width=lung_half_width,
        lung_top=0.085 + 0.006 * jitter[5], lung_centre_y=0.47, dome_curve=4.4 + 0.3 * jitter[6],
        domes={-1: dome, 1: dome + 0.022 + 0.006 * jitter[7]},
        heart_right=ctr * thorax * right_share, heart_left=ctr * thorax * (1 - right_share),
        heart_top=0.44 + 0.01 * jitter[8], mediastinum=0.085 + 0.005 * jitter[9],
        hila_y={-1: 0.42, 1: 0.4 + 0.006 * jitter[10]},
        rib_top=0.07 + 0.005 * jitter[11], rib_spacing=0.06 + 0.002 * jitter[12],
        soft_tissue=0.6 + 0.02 * jitter[13], air=0.42 + 0.015 * jitter[14],
    )


def finding_rng(seed, slug, purpose=0):
    """A finding's own random stream: adding or removing one finding leaves the others where they were."""
    return np.random.default_rng([seed, SLUGS.index(slug), purpose])


def with_findings_on_anatomy(anatomy, findings, seed):
    """Findings that change the build itself: a big heart, a wide mediastinum."""
    if "cardiomegaly" in findings:
        # Cardiothoracic ratio 0.56–0.65 when certain; an uncertain one sits just over the 0.5 limit.
        ctr = 0.5 + findings["cardiomegaly"] * uniform(finding_rng(seed, "cardiomegaly"), 0.06, 0.15)
        scale = ctr / anatomy.cardiothoracic_ratio
        anatomy = replace(anatomy, heart_right=anatomy.heart_right * scale, heart_left=anatomy.heart_left * scale,
                          heart_top=anatomy.heart_top - 0.03 * findings["cardiomegaly"])
    if "enlarged-cardiomediastinum" in findings:
        widening = 1 + 0.5 * findings["enlarged-cardiomediastinum"]
        anatomy = replace(anatomy, mediastinum=anatomy.mediastinum * widening)
    return anatomy


def render_chest(rng, width, height, findings=(), sides=None):
    """A frontal chest radiograph as presentation values (uint16, 0..4095, bright = dense), rows = height.

    `findings`: slugs, or {slug: strength 0..1}; `sides`: {slug: 'right' | 'left' | 'both'} for lateral
    findings (drawn from `rng` when missing). Anatomy, findings and noise draw from separate streams, so
    the same rng with and without a finding gives the same patient.
    """
    findings = dict(findings) if isinstance(findings, dict) else dict.fromkeys(findings, 1.0)
    unknown = set(findings) - set(SLUGS)
    if unknown:
        raise ValueError(f"unknown finding(s) {sorted(unknown)}; known: {SLUGS}")
    bad_sides = {slug: side for slug, side in (sides or {}).items() if side not in ("right", "left", "both")}
    if bad_sides:
        raise ValueError(f"sides must be 'right', 'left' or 'both', not {bad_sides}")
    anatomy_seed, findings_seed, noise_seed = rng.integers(2**63, size=3).tolist()
    grid = Grid.of(width, height)
    anatomy_rng = np.random.default_rng(anatomy_seed)
    anatomy = with_findings_on_anatomy(draw_anatomy(anatomy_rng), findings, findings_seed)
    sides = {slug: (sides or {}).get(slug) or default_side(findings_seed, slug) for slug in LATERAL_FINDINGS}
    scene = build_scene(grid, anatomy, anatomy_rng, fracture_for(findings, sides, findings_seed))
    density = scene.density
    for slug, strength in findings.items():
        if slug in PAINTERS:
            painter_rng = finding_rng(findings_seed, slug)
            for side in painted_sides(slug, sides):
                density += strength * PAINTERS[slug](scene, painter_rng, side)
    density += exposure_noise(grid, np.random.default_rng(noise_seed), density)
    return to_presentation_values(density)


def default_side(seed, slug):
    return "right" if finding_rng(seed, slug, purpose=1).random() < 0.5 else "left"


def painted_sides(slug, sides):
    """-1 and/or +1 for a lateral finding; None for one that is central or bilateral by nature."""
    if slug not in LATERAL_FINDINGS:
        return (None,)
    return (-1, 1) if sides[slug] == "both" else (SIDES[sides[slug]],)


@dataclass
class Scene:
    """The normal chest's layers, which findings read to draw themselves in place."""
    grid: Grid
    anatomy: Anatomy
    density: np.ndarray
    lungs: dict  # side -> lung field, 0..1
    rho: dict  # side -> normalised distance from the lung's centre (1 at its outline)
    air: dict  # side -> the density the lung's air takes away (what a filled airspace gives back)
    markings: np.ndarray  # the vessels' density, so that air or fluid can hide them


def build_scene(grid, anatomy, rng, fracture=None):
    density = body_soft_tissue(grid, anatomy)
    lungs, rho, air = {}, {}, {}
    for side in (-1, 1):
        rho[side] = lung_rho(grid, anatomy, side)
        lungs[side] = lung_field(grid, anatomy, side, rho[side])
        air[side] = lung_air(grid, anatomy, lungs[side], rho[side])
        density -= air[side]
    both_lungs = lungs[-1] + lungs[1]
    markings = lung_markings(grid, anatomy, rng) * both_lungs
    density += markings
    density += hila(grid, anatomy) * both_lungs
    density -= airways(grid, anatomy)
    density -= gastric_bubble(grid, anatomy)
    density += spine(grid, anatomy)
    for side in (-1, 1):
        broken = fracture if fracture and fracture.side == side else None
        density += ribs(grid, anatomy, side, rho[side], lungs[side], broken)
        density += clavicle(grid, anatomy, side)
        density += humeral_head(grid, anatomy, side)
    density += smooth_field(grid, rng, 5) * 0.02  # uneven exposure and patient thickness
    return Scene(grid, anatomy, density, lungs, rho, air, markings)


# --- anatomy layers ------------------------------------------------------------------------------------

def ramp(value, edge):
    """0 below -edge/2, 1 above +edge/2: a soft inside test for a signed distance. Works in place on
    `value`, which callers pass as a fresh temporary: whole-image allocations are most of the cost."""
    value *= 1 / edge
    value += 0.5
    return np.clip(value, 0, 1, out=value)


def body_soft_tissue(grid, anatomy):
    """Neck, shoulders and trunk, thickest in the middle; air beside the neck and the waist."""
    u = np.abs(grid.x - anatomy.midline)
    # The neck, then the trapezius sloping down to the shoulder tips, with air above.
    shoulders = np.clip(0.35 * (u - 0.085), 0, None) ** 0.8 * 0.55
    half_width = 0.49 - 0.04 * np.clip((grid.y - 0.75) / 0.25, 0, 1)
    outline = ramp(grid.y - shoulders, grid.edge(0.015)) * ramp(half_width - u, grid.edge(0.02))
    thickness = np.sqrt(np.clip(1 - (u / 0.53) ** 2, 0, 1))
    return anatomy.soft_tissue * outline * (0.1 + 0.9 * thickness ** 1.5)


def lung_rho(grid, anatomy, side):
    """A rounded-box distance from the lung's centre: 1 on the outline, larger outside. The medial half
    reaches past the midline: the mediastinum, not this box, makes the lung's medial border."""
    du = anatomy.u(grid, side) - anatomy.lung_centre
    dy = grid.y - anatomy.lung_centre_y
    half_width = np.where(du > 0, np.float32(anatomy.lung_half_width), np.float32(0.3))
    half_height = np.where(dy < 0, np.float32(anatomy.lung_centre_y - anatomy.lung_top), np.float32(0.6))
    return (np.abs(du / half_width) ** 2.2 + np.abs(dy / half_height) ** 2.2) ** (1 / 2.2)


def diaphragm_y(grid, anatomy, side):
    """The hemidiaphragm's dome, an arc highest at mid-lung that falls ever more steeply to a deep
    costophrenic angle."""
    radius = 1 / anatomy.dome_curve
    offset = np.minimum(np.abs(anatomy.u(grid, side) - 0.16), 0.999 * radius)
    return anatomy.domes[side] + radius - np.sqrt(radius * radius - offset * offset)


def mediastinum_edge(grid, anatomy, side):
    """Per row, how far the mediastinum and heart reach towards `side` (a column of shape (rows, 1))."""
    y = grid.y
    # Narrow at the thoracic inlet, wider at the arch.
    upper = anatomy.mediastinum * (0.75 + 0.25 * np.clip((y - 0.12) / 0.25, 0, 1))
    reach = anatomy.heart_left if side == 1 else anatomy.heart_right
    # Convex borders out of the mediastinum's: the right atrium bulging, widest 60% of the way down; the
    # left ventricle sloping out and down to its apex on the diaphragm.
    top = anatomy.heart_top + (-0.02 if side == 1 else 0.02)
    if side == 1:
        down = np.clip((y - top) / (anatomy.domes[side] - top), 0, 1)
        bulge = 1 - (1 - down) ** 1.7
    else:
        widest = top + (anatomy.domes[side] - top) * 0.6
        bulge = np.clip(1 - ((y - widest) / (widest - top)) ** 2, 0, 1) ** 0.7
    heart = upper + (reach - upper) * bulge
    if side == 1:  # the aortic knob and the pulmonary trunk bulge on the left
        upper = upper + 0.03 * np.exp(-(((y - 0.29) / 0.035) ** 2)) + 0.012 * np.exp(-(((y - 0.375) / 0.03) ** 2))
    return np.maximum(upper, heart)


def lung_field(grid, anatomy, side, rho):
    """Inside the rounded box, above the hemidiaphragm, lateral to the mediastinum and heart."""
    u = anatomy.u(grid, side)
    edge = grid.edge(0.004)
    # The heart is round: lung overlaps its edge in front and behind, so that border is softer.
    return (ramp((1 - rho) * anatomy.lung_half_width, edge)
            * ramp(diaphragm_y(grid, anatomy, side) - grid.y, edge * grid.aspect)
            * ramp(u - mediastinum_edge(grid, anatomy, side), grid.edge(0.012)))


def lung_air(grid, anatomy, lung, rho):
    """The lung is thickest in its middle and thin at the outline and the apex, so darkest mid-zone."""
    apex = np.clip((grid.y - anatomy.lung_top) / 0.15, 0, 1)
    base = np.clip((grid.y - 0.5) / 0.25, 0, 1)  # breasts and the posterior sulci overlap the bases
    return anatomy.air * lung * (1.05 - 0.35 * rho * rho) * (0.7 + 0.3 * apex - 0.15 * base)


def lung_markings(grid, anatomy, rng):
    """Vessels fanning out of each hilum, branching, thinning and fading towards the periphery."""
    markings = np.zeros(grid.shape, np.float32)
    for side in (-1, 1):
        near, far = anatomy.midline + side * 0.04, anatomy.midline + side * 0.42
        box = (min(near, far), max(near, far), anatomy.lung_top - 0.01, anatomy.domes[side] + 0.17)
        markings += in_region(grid, box, lambda local, side=side: hilar_vessels(local, anatomy, rng, side))
    return markings


def hilar_vessels(grid, anatomy, rng, side):
    dx = grid.x - (anatomy.midline + side * 0.11)
    dy = (grid.y - anatomy.hila_y[side]) / grid.aspect
    radius = np.sqrt(dx * dx + dy * dy)
    angle = np.arctan2(dy, dx)
    angle += 0.03 * np.sin(radius * 20 + uniform(rng, 0, 6.3)) + 0.05 * np.sin(radius * 7 + uniform(rng, 0, 6.3))
    # The lookup tables over the angle need about a pixel per step at the lungs' edge, no finer.
    steps = int(min(4096, 2 ** np.ceil(np.log2(max(2.5 * grid.width, 256)))))
    angle *= steps / (2 * np.pi)
    index = angle.astype(np.int32)
    index %= steps
    vessels = np.zeros(grid.shape, np.float32)
    # Three generations: few and wide near the hilum, more and thinner further out, each vessel
    # ending at its own distance.
    for count, spread, inner, outer, weight in ((12, 0.07, 0.03, 0.2, 1.0), (30, 0.03, 0.08, 0.32, 0.8),
                                                (90, 0.009, 0.15, 0.46, 0.45)):
        profile, ends = angular_vessels(rng, steps, count, spread, inner, outer)
        reach = np.minimum((radius - inner) * (1 / 0.04), (ends[index] - radius) * (1 / 0.06))
        np.clip(reach, 0, 1, out=reach)
        reach *= profile[index]
        reach *= weight
        vessels += reach
    lower_zone = 0.7 + 0.5 * np.clip((grid.y - anatomy.hila_y[side]) / 0.25, 0, 1)  # gravity: bigger below
    fading = 1 - 0.5 * np.clip(radius * (1 / 0.45), 0, 1)  # ever smaller vessels towards the periphery
    return 0.14 * vessels * lower_zone * fading


def angular_vessels(rng, steps, count, spread, inner, outer):
    """Lookups over `steps` angles round a hilum: `count` bumps of width `spread` radians at random
    angles (the vessels' profile), and for each angle the distance where the nearest vessel ends."""
    centres = rng.uniform(0, 2 * np.pi, count)[:, None]
    calibres = rng.uniform(0.5, 1.0, count)[:, None]
    ends = rng.uniform(inner + 0.5 * (outer - inner), outer, count)
    angles = np.arange(steps) * (2 * np.pi / steps)
    offsets = np.abs(np.mod(angles - centres + np.pi, 2 * np.pi) - np.pi)  # (vessel, angle), 0..pi
    profile = (calibres * np.exp(-((offsets / spread) ** 2))).sum(axis=0)
    return np.minimum(profile, 1.3).astype(np.float32), ends[offsets.argmin(axis=0)].astype(np.float32)


def blob(grid, cx, cy, rx, ry):
    """exp(-r^2) round (cx, cy), radii in x units (ry is made the same physical length in y)."""
    def draw(local):
        return np.exp(-(((local.x - cx) / rx) ** 2 + ((local.y - cy) / (ry * grid.aspect)) ** 2))
    return in_region(grid, (cx - 3 * rx, cx + 3 * rx, cy - 3 * ry * grid.aspect, cy + 3 * ry * grid.aspect), draw)


def hila(grid, anatomy):
    """The pulmonary arteries at the hila: lobulated densities beside the heart."""
    density = np.zeros(grid.shape, np.float32)
    for side in (-1, 1):
        for du, dy, r in ((0.12, 0.0, 0.026), (0.135, 0.045, 0.018)):
            density += 0.09 * blob(grid, anatomy.midline + side * du, anatomy.hila_y[side] + dy, r, 1.6 * r)
    return density


def airways(grid, anatomy):
    """The trachea down to the carina, and the main bronchi: air, so less density."""
    return in_region(grid, (anatomy.midline - 0.1, anatomy.midline + 0.1, 0, 0.42),
                     lambda local: trachea_and_bronchi(local, anatomy))


def trachea_and_bronchi(grid, anatomy):
    carina = 0.33
    x0 = anatomy.midline - 0.008 * np.clip((grid.y - 0.2) / 0.1, 0, 1)  # pushed right by the aortic knob
    trachea = ramp(0.018 - np.abs(grid.x - x0), grid.edge(0.008)) * ramp(carina + 0.005 - grid.y, 0.01)
    bronchi = np.zeros(grid.shape, np.float32)
    below = np.clip(grid.y - carina, 0, None)
    for side, slope, length in ((-1, 0.6, 0.05), (1, 0.9, 0.06)):
        centre = x0 + side * below * slope
        taper = np.clip((length - below) / length, 0, 1) * (grid.y > carina - 0.01)
        bronchi += ramp(0.006 + 0.008 * taper - np.abs(grid.x - centre), grid.edge(0.006)) * taper
    return 0.15 * np.maximum(trachea, bronchi)


def gastric_bubble(grid, anatomy):
    """The stomach's air under the left hemidiaphragm."""
    return 0.1 * blob(grid, anatomy.midline + 0.15, anatomy.domes[1] + 0.055, 0.04, 0.022)


def spine(grid, anatomy):
    """Vertebral bodies with their pedicles, faint through the mediastinum."""
    def draw(local):
        u = local.x - anatomy.midline
        phase = np.mod(local.y - 0.02, 0.058) / 0.058
        column = ramp(0.035 - np.abs(u), grid.edge(0.006))
        discs = 1 - 0.4 * np.exp(-((phase - 0.9) / 0.08) ** 2)
        pedicles = np.exp(-(((np.abs(u) - 0.026) / 0.007) ** 2 + ((phase - 0.4) / 0.15) ** 2))
        return 0.03 * column * discs + 0.02 * pedicles
    return in_region(grid, (anatomy.midline - 0.05, anatomy.midline + 0.05, 0, 1), draw)


@dataclass(frozen=True)
class Fracture:
    side: int
    rib: int
    u: float  # where along the rib, as distance from the midline
    step: float  # how far the lateral fragment dropped, in rib half-widths


def fracture_for(findings, sides, seed):
    """Where the broken rib is: a mid rib, laterally, its outer fragment displaced downwards."""
    if "fracture" not in findings:
        return None
    rng = finding_rng(seed, "fracture")
    side = "right" if sides["fracture"] == "both" else sides["fracture"]
    return Fracture(SIDES[side], int(rng.integers(3, 7)), uniform(rng, 0.26, 0.33),
                    uniform(rng, 1.0, 1.5) * findings["fracture"])


def ribs(grid, anatomy, side, rho, lung, fracture=None):
    """Posterior ribs arching out from the spine and bending down to the chest wall, and the fainter
    anterior ribs sloping down towards the sternum; each rib a band with a denser cortex. Over soft
    tissue the processing curve flattens bone contrast, so ribs are fainter outside the lung."""
    box = (anatomy.midline, 1, 0, 1) if side == 1 else (0, anatomy.midline, 0, 1)
    rows, columns, local = grid.region(*box)
    layer = np.zeros(grid.shape, np.float32)
    layer[rows, columns] = rib_cage(local, anatomy, side, rho[rows, columns], fracture)
    layer *= 0.3 + 0.7 * lung
    return layer


def rib_cage(grid, anatomy, side, rho, fracture):
    u = anatomy.u(grid, side)
    cage = ramp((1.07 - rho) * anatomy.lung_half_width, grid.edge(0.006)) * ramp(u - 0.035, 0.02)
    # Posterior: the ribs' centre lines are one curve, shifted down by a rib spacing each.
    arch = -0.2 * u + 1.3 * u * u
    # Lower ribs are further apart: position p of y solves y = top + spacing * (p + 0.02 p^2).
    height = (grid.y - arch - anatomy.rib_top) / anatomy.rib_spacing
    position = (np.sqrt(np.clip(1 + 0.08 * height, 0, None)) - 1) / 0.04
    number = np.round(position)
    half_width = 0.17 + 0.08 * np.clip(u / 0.35, 0, 1)
    if fracture:
        broken = (number == fracture.rib) & (u > fracture.u)
        position -= broken * (fracture.step * half_width)  # the lateral fragment sits lower
    posterior = rib_band((position - number) / half_width) * ((number >= 0) & (number < 12))
    if fracture:
        gap = ramp(np.abs(u - fracture.u) - 0.005, grid.edge(0.002))
        posterior *= np.where(number == fracture.rib, gap, np.float32(1))
    # Anterior: from the lateral wall down and in, ending at the (invisible) costal cartilage.
    slope = 0.55 * (0.42 - u) ** 2 + 0.2 * (0.42 - u)
    position = (grid.y - slope - 0.19) / 0.068
    anterior = rib_band((position - np.round(position)) / 0.2) * ((position > -0.5) & (position < 5.5))
    return cage * (0.07 * posterior + 0.03 * anterior * ramp(u - 0.14, 0.03))


def rib_band(t):
    """A bone across its width (t in -1..1, down): denser at the cortex, its lower edge the sharper."""
    inside = np.clip((1 - np.abs(t)) * np.where(t > 0, np.float32(6), np.float32(3)), 0, 1)
    return inside * (0.6 + 0.4 * t * t)


def clavicle(grid, anatomy, side):
    """An S-shaped bone from the sternum out and up to the shoulder."""
    near, far = anatomy.midline + side * 0.03, anatomy.midline + side * 0.36
    return in_region(grid, (min(near, far), max(near, far), 0, 0.3),
                     lambda local: clavicle_bone(local, anatomy, side))


def clavicle_bone(grid, anatomy, side):
    u = anatomy.u(grid, side)
    centre = 0.175 - 0.2 * (u - 0.05) + 0.012 * np.sin((u - 0.05) * 14)
    half_width = 0.014 + 0.006 * np.clip((0.12 - u) / 0.07, 0, 1)  # the sternal end is broader
    extent = ramp(u - 0.045, 0.02) * ramp(0.34 - u, 0.03)
    return 0.16 * rib_band((grid.y - centre) / half_width) * extent


def humeral_head(grid, anatomy, side):
    """The top of the humerus at the edge of the field, with its cortex."""
    cx, cy, radius = anatomy.midline + side * 0.475, 0.16, 0.06

    def draw(local):
        distance = np.sqrt(((local.x - cx) / radius) ** 2 + ((local.y - cy) / (radius * grid.aspect)) ** 2)
        neck = ramp(0.035 - np.abs(local.x - cx - side * 0.01), 0.015) * ramp(local.y - cy, 0.02)
        bone = np.maximum(ramp(1 - distance, 0.1), neck * np.clip((0.4 - local.y) / 0.1, 0, 1))
        return 0.12 * bone * (0.8 + 0.2 * np.clip(distance, 0, 1) ** 6)
    return in_region(grid, (cx - radius * 1.2, cx + radius * 1.2, 0, 0.45), draw)


def smooth_field(grid, rng, cells):
    """Gentle random variation: a coarse grid of normal values, interpolated smoothly over the image."""
    coarse = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return interpolate_rows(interpolate_columns(coarse, grid.x[0] * cells), grid.y[:, 0] * cells)


def interpolate_rows(coarse, positions):
    """Smoothstep interpolation between the rows of `coarse` at fractional row `positions`."""
    low = np.minimum(positions.astype(np.int32), coarse.shape[0] - 2)
    t = positions - low.astype(np.float32)
    t = (t * t * (3 - 2 * t))[:, None]
    return coarse[low] * (1 - t) + coarse[low + 1] * t


def interpolate_columns(field, positions):
    return interpolate_rows(field.T, positions).T


def exposure_noise(grid, rng, density):
    """Quantum noise, stronger where less X-ray got through."""
    noise = rng.standard_normal(grid.shape, dtype=np.float32)
    return noise * (0.006 + 0.008 * np.clip(density, 0, 1))


def to_presentation_values(density):
    """The processing curve of a For Presentation image: lungs dark grey, soft tissue light, bone and
    metal compressed towards white rather than clipped."""
    shaped = 0.03 + 0.94 * np.tanh(np.clip(density, 0, None) * 1.3) * (1 / np.tanh(1.3))
    return np.clip(np.rint(shaped * MAX_VALUE), 0, MAX_VALUE).astype(np.uint16)


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
    return in_region(grid, (cx - 1.2 * radius, cx + 1.2 * radius,
                            cy - 1.2 * radius * grid.aspect, cy + 1.2 * radius * grid.aspect), draw)


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
    kerley = np.exp(-((np.mod(grid.y, spacing) / spacing - 0.5) / 0.12) ** 2) * row_of_lines
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
    ng = [(mid + 0.012, 0.0), (mid + 0.016, 0.3), (mid + 0.03, 0.55), (mid + 0.07, anatomy.domes[1] + 0.06),
          (mid + 0.15, anatomy.domes[1] + 0.09)]
    return (0.1 * draw_path(grid, ett, 0.014) + 0.4 * draw_path(grid, ett, 0.002)
            + 0.35 * draw_path(grid, ng, 0.003))


def central_line(scene, rng):
    """A jugular or subclavian central venous catheter, its tip at the cavoatrial junction."""
    mid, side = scene.anatomy.midline, -1 if rng.random() < 0.7 else 1
    tip = (mid - 0.035, uniform(rng, 0.38, 0.44))
    if rng.random() < 0.5:
        path = [(mid + side * 0.09, 0.0), (mid + side * 0.075, 0.12), (mid + side * 0.045, 0.24), tip]
    else:
        # Along the subclavian and brachiocephalic veins; the left one crosses the midline to the SVC.
        path = [(mid + side * 0.3, 0.2), (mid + side * 0.2, 0.185), (mid + side * 0.08, 0.22),
                (mid + (0.02 if side > 0 else -0.06), 0.3), tip]
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
    return (0.8 * in_region(grid, (cx - 0.05, cx + 0.05, cy - 0.05, cy + 0.05), generator)
            + 0.45 * draw_path(grid, ventricle, 0.003) + 0.45 * draw_path(grid, atrium, 0.003))


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
        pieces.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                             + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
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
