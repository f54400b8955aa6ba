"""DICOM → model image: what a radiologist's viewer would show, in the pixel budget the model was trained on.

DB-free: datasets are built in memory with pydicom.
"""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from inference.preprocess import (
    MAX_PIXELS,
    MIN_PIXELS,
    dicom_to_model_image,
    fit_pixel_budget,
    frontal_image,
    modality_values,
)

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def dicom(pixels, photometric="MONOCHROME2", bits_stored=12, **elements):
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = DX_FOR_PRESENTATION
    dataset.set_pixel_data(np.asarray(pixels, dtype=np.uint16), photometric, bits_stored)
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return dataset


def grey(image):
    """The model image's single grey channel, after checking that the three RGB channels agree."""
    pixels = np.asarray(image)
    assert image.mode == "RGB"
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    return pixels[..., 0].astype(int)


def ramp(low, high, shape=(200, 200)):
    return np.linspace(low, high, shape[0] * shape[1]).reshape(shape)


# ---- modality LUT -----------------------------------------------------------------------------------------


def test_rescale_slope_and_intercept_are_applied_exactly():
    dataset = dicom([[0, 100], [1000, 4095]], RescaleSlope=2, RescaleIntercept=-1024)
    assert modality_values(dataset).tolist() == [[-1024, -824], [976, 7166]]


def test_the_window_is_read_in_rescaled_units():
    # Stored 1000 is 1000 × 0.5 + 100 = 600 after rescaling: the window's centre.
    pixels = np.full((150, 150), 1000)
    pixels[:, :50], pixels[:, 100:] = 0, 4000
    dataset = dicom(pixels, RescaleSlope=0.5, RescaleIntercept=100, WindowCenter=600, WindowWidth=400)
    values = grey(dicom_to_model_image(dataset))
    assert values[75, 0] == 0
    assert abs(values[75, 75] - 128) <= 1
    assert values[75, 149] == 255


def test_a_multi_frame_image_is_refused_with_its_shape():
    dataset = dicom(np.zeros((2, 20, 20)), NumberOfFrames=2)
    with pytest.raises(ValueError, match="one greyscale frame"):
        dicom_to_model_image(dataset)


# ---- VOI: window, VOI LUT, percentile fallback ------------------------------------------------------------


def test_a_window_maps_its_centre_to_mid_grey_and_clips_outside_it():
    pixels = np.repeat([[700, 800, 900, 1000, 1100, 1200, 1300]], 140, axis=0).repeat(20, axis=1)
    dataset = dicom(pixels, WindowCenter=1000, WindowWidth=400)
    values = grey(dicom_to_model_image(dataset))[70]
    assert values[10] == 0 and values[30] == 0  # below the window
    assert abs(values[50] - 64) <= 1
    assert abs(values[70] - 128) <= 1  # the centre
    assert abs(values[90] - 191) <= 1
    assert values[110] == 255 and values[130] == 255  # above the window


def test_of_several_windows_the_first_is_used():
    pixels = np.full((150, 150), 1000)
    dataset = dicom(pixels, WindowCenter=[1000, 3000], WindowWidth=[400, 100])
    assert abs(grey(dicom_to_model_image(dataset))[75, 75] - 128) <= 1


def test_a_voi_lut_sequence_is_applied():
    lut = Dataset()
    lut.add_new(0x00283002, "US", [256, 0, 8])  # LUTDescriptor: 256 entries, first value 0, 8 bits
    lut.add_new(0x00283006, "US", list(range(255, -1, -1)))  # LUTData: an inverting table
    pixels = np.zeros((150, 150))
    pixels[:, 75:] = 255
    dataset = dicom(pixels, bits_stored=8, VOILUTSequence=[lut])
    values = grey(dicom_to_model_image(dataset))
    assert values[75, 10] == 255 and values[75, 140] == 0


def test_without_a_window_the_extreme_half_percent_tails_are_clipped():
    pixels = ramp(1000, 2000).round()
    pixels.flat[:10] = 0  # a few burnt-in label pixels: 0.025 % of the image
    pixels.flat[-10:] = 4095
    values = grey(dicom_to_model_image(dicom(pixels)))
    # The outliers do not squash the anatomy into a few grey levels: it spans almost all 256 values.
    assert values.flat[0] == 0 and values.flat[-1] == 255
    middle = values[100]
    assert 120 <= middle.mean() <= 136
    assert len(np.unique(values)) > 250


def test_a_flat_image_comes_out_black_rather_than_failing():
    assert grey(dicom_to_model_image(dicom(np.full((150, 150), 700)))).max() == 0


# ---- photometric interpretation ---------------------------------------------------------------------------


def test_monochrome1_is_inverted_so_that_bone_is_white():
    pixels = ramp(0, 4095)
    normal = grey(dicom_to_model_image(dicom(pixels, "MONOCHROME2")))
    inverted = grey(dicom_to_model_image(dicom(pixels, "MONOCHROME1")))
    assert (normal + inverted == 255).all()


def test_monochrome1_is_inverted_after_its_window():
    pixels = np.full((150, 150), 1000)
    pixels[:, :50] = 0
    dataset = dicom(pixels, "MONOCHROME1", WindowCenter=1000, WindowWidth=400)
    values = grey(dicom_to_model_image(dataset))
    assert values[75, 0] == 255  # below the window: black in MONOCHROME2, so white here
    assert abs(values[75, 100] - 127) <= 1


# ---- output: RGB, 8 bits, pixel budget ---------------------------------------------------------------------


def test_the_output_is_an_8_bit_rgb_image():
    image = dicom_to_model_image(dicom(ramp(0, 4095)))
    assert image.mode == "RGB"
    assert np.asarray(image).dtype == np.uint8


@pytest.mark.parametrize(
    "rows, columns",
    [
        (3000, 2500),  # a full-size radiograph: shrunk
        (40, 60),  # a thumbnail: enlarged
        (100, 4000),  # 40:1 and over budget
        (8, 700),  # 87:1 and under budget
        (300, 400),  # already within budget: untouched
    ],
)
def test_the_pixel_budget_is_respected_and_the_aspect_ratio_kept(rows, columns):
    image = dicom_to_model_image(dicom(np.zeros((rows, columns))))
    assert MIN_PIXELS <= image.width * image.height <= MAX_PIXELS
    assert image.width / image.height == pytest.approx(columns / rows, rel=0.15)
    if MIN_PIXELS <= rows * columns <= MAX_PIXELS:
        assert image.size == (columns, rows)


def test_settings_may_pass_their_own_budget():
    image = dicom_to_model_image(dicom(np.zeros((1000, 800))), min_pixels=56 * 56, max_pixels=224 * 224)
    assert 56 * 56 <= image.width * image.height <= 224 * 224


@pytest.mark.parametrize("size", [(1, 10**6), (10**6, 1), (1, 1), (5000, 3)])
def test_even_degenerate_shapes_fit_the_budget(size):
    width, height = fit_pixel_budget(*size, MIN_PIXELS, MAX_PIXELS)
    assert width >= 1 and height >= 1
    assert width * height <= MAX_PIXELS


def test_an_impossible_budget_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        fit_pixel_budget(100, 100, 500, 400)


def test_a_file_path_is_read_like_a_dataset(tmp_path):
    dataset = dicom(ramp(0, 4095), WindowCenter=2048, WindowWidth=4096)
    dataset.SOPInstanceUID = generate_uid()
    path = tmp_path / "image.dcm"
    dataset.save_as(path, enforce_file_format=True)
    assert (np.asarray(dicom_to_model_image(path)) == np.asarray(dicom_to_model_image(dataset))).all()


# ---- which image of a case ---------------------------------------------------------------------------------


def images(*view_positions):
    return [SimpleNamespace(view_position=view) for view in view_positions]


@pytest.mark.parametrize(
    "views, expected",
    [
        (("LL", "PA"), 1),
        (("ap", "PA"), 0),  # DICOM allows any case in practice
        (("LATERAL", "", "AP"), 2),
        (("LL", ""), 0),  # no frontal view: the first image
    ],
)
def test_the_first_frontal_view_is_chosen(views, expected):
    case_images = images(*views)
    assert frontal_image(case_images) is case_images[expected]


def test_a_case_without_images_has_no_frontal_image():
    assert frontal_image([]) is None


def test_preprocessing_does_not_import_torch():
    """The web tier prepares nothing with torch: importing these modules must not pull it in."""
    code = (
        "import sys, inference.preprocess, inference.engines.base, inference.trace_format; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
