"""A stored DICOM file → the 8-bit RGB image the model reads (numpy, pydicom and PIL only; no torch).

The steps are the display pipeline a radiologist's viewer applies: modality LUT (stored values to
physical ones), the file's own VOI LUT or window (else a robust percentile window), MONOCHROME1 inversion
so that bone is always white, 8 bits, three channels, then a resize into the pixel budget the model was
trained on (128² to 476² pixels).
"""

import math

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi, apply_voi_lut, apply_windowing

# NV-Reason-CXR-3B was trained on images of 128² to 476² pixels; settings pass their own values.
MIN_PIXELS = 128 * 128
MAX_PIXELS = 476 * 476
# Without a window in the file, ignore the extreme tails (burnt-in labels, collimator edges).
FALLBACK_PERCENTILES = (0.5, 99.5)


def dicom_to_model_image(path_or_dataset, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    dataset = _as_dataset(path_or_dataset)
    grey = to_uint8(windowed_unit_range(modality_values(dataset), dataset))
    if dataset.PhotometricInterpretation == "MONOCHROME1":
        grey = invert(grey)
    image = Image.fromarray(grey)  # 2-D uint8: mode "L"
    return resize_to_pixel_budget(image, min_pixels, max_pixels).convert("RGB")


def frontal_image(images):
    """The image the model reads from a case: the first PA or AP view, else the first image (None if none)."""
    for image in images:
        if (image.view_position or "").upper() in ("PA", "AP"):
            return image
    return images[0] if images else None


def _as_dataset(path_or_dataset):
    if isinstance(path_or_dataset, pydicom.Dataset):
        return path_or_dataset
    return pydicom.dcmread(path_or_dataset)


def modality_values(dataset):
    """Stored pixel values → the modality's units (RescaleSlope/Intercept or a Modality LUT)."""
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected one greyscale frame, got pixel data of shape {pixels.shape}")
    return apply_modality_lut(pixels, dataset)


def windowed_unit_range(values, dataset):
    """Apply the file's VOI LUT or first window, else the percentile window; the result lies in [0, 1]."""
    if has_voi(dataset):
        low, high = voi_output_range(dataset)
        windowed = apply_voi_lut(values, dataset, index=0)
    else:
        low, high = np.percentile(values, FALLBACK_PERCENTILES)
        windowed = values
    return rescale_to_unit(windowed, low, high)


def has_voi(dataset):
    has_lut = bool(dataset.get("VOILUTSequence"))
    has_window = dataset.get("WindowCenter") is not None and dataset.get("WindowWidth") is not None
    return has_lut or has_window


def voi_output_range(dataset):
    """The lowest and highest values the VOI stage can output, found by asking pydicom itself.

    pydicom maps a window onto the stored bit range (or the LUT's own entries), not onto [0, 1]; probing it
    with the LUT's whole input domain, or with values far outside the window, gives that range exactly and
    keeps the window's meaning: its centre becomes mid-grey, anything below or above black or white.
    """
    if dataset.get("VOILUTSequence"):  # apply_voi_lut prefers the LUT when both are present
        entries, first_mapped = dataset.VOILUTSequence[0].LUTDescriptor[:2]
        table = apply_voi(np.arange(first_mapped, first_mapped + (entries or 2**16)), dataset, index=0)
    else:
        centre, width = _first(dataset.WindowCenter), _first(dataset.WindowWidth)
        table = apply_windowing(np.array([centre - 100 * width, centre + 100 * width], dtype=float), dataset)
    return float(np.min(table)), float(np.max(table))


def _first(value):
    """WindowCenter/Width may hold several alternatives; the first is the one the modality suggests."""
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def rescale_to_unit(values, low, high):
    if high <= low:  # a flat image carries no contrast to keep
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((np.asarray(values, dtype=np.float32) - low) / (high - low), 0.0, 1.0)


def to_uint8(unit):
    return np.rint(unit * 255).astype(np.uint8)


def invert(grey):
    """MONOCHROME1 stores bone as dark; the model, like every viewer, expects bone white."""
    return 255 - grey


def fit_pixel_budget(width, height, min_pixels, max_pixels):
    """The size, aspect ratio kept, whose area lies within [min_pixels, max_pixels] (unchanged if it does)."""
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) exceeds max_pixels ({max_pixels})")
    area = width * height
    if area > max_pixels:
        scale = math.sqrt(max_pixels / area)
        new_width, new_height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        if new_width * new_height > max_pixels:  # one side was rounded up to a single pixel
            return min(new_width, max_pixels), min(new_height, max_pixels)
        return new_width, new_height
    if area < min_pixels:
        scale = math.sqrt(min_pixels / area)
        return math.ceil(width * scale), math.ceil(height * scale)
    return width, height


def resize_to_pixel_budget(image, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    size = fit_pixel_budget(image.width, image.height, min_pixels, max_pixels)
    if size == image.size:
        return image
    # Lanczos keeps fine lines (catheters, pleural edges) sharper than bilinear when shrinking.
    return image.resize(size, Image.Resampling.LANCZOS)
