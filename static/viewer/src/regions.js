// Where a reasoning step's region lies on a frontal chest radiograph: boxes in fractions of the image (x from
// the image's left edge, y from its top), for the patient's right on the image's left as a PA or AP film is
// displayed. Proportions of an adult chest, not a segmentation: the outline shows where to look, not an edge.
// A step that names a zone ("right lower zone", "left apex") narrows its lung to that third.

const LUNG = { right: [0.1, 0.1, 0.48, 0.8], left: [0.52, 0.1, 0.9, 0.8] };
const ZONES = {
  upper: [0, 1 / 3], middle: [1 / 3, 2 / 3], lower: [2 / 3, 1],
};
const ZONE_WORDS = [
  ["upper", /\b(upper|apex|apices|apical)\b/i],
  ["middle", /\b(mid|middle)(\s|-)?zone\b|\bmid(-|\s)lung\b|\bperihilar\b/i],
  ["lower", /\b(lower|base|bases|basal|basilar)\b/i],
];

// Each region in the patient's frame: `right` and `left` are the patient's sides.
const REGIONS = {
  "right-lung": () => [LUNG.right],
  "left-lung": () => [LUNG.left],
  // Both lungs' lateral borders and costophrenic angles, where effusion and pneumothorax show.
  pleura: () => [[0.06, 0.12, 0.2, 0.84], [0.8, 0.12, 0.94, 0.84]],
  mediastinum: () => [[0.4, 0.06, 0.6, 0.6]],
  hila: () => [[0.33, 0.3, 0.46, 0.48], [0.54, 0.3, 0.67, 0.48]],
  // The heart lies mostly to the patient's left (the image's right).
  heart: () => [[0.38, 0.46, 0.72, 0.8]],
  "central-airways": () => [[0.44, 0.02, 0.56, 0.42]],
  "upper-abdomen": () => [[0.1, 0.74, 0.9, 0.96]],
  bones: () => [[0.03, 0.03, 0.97, 0.92]],
};

// Which side a step names when its region is both lungs' business (pleura, hila): "left pleural effusion".
function sideOf(text) {
  const right = /\bright\b/i.test(text);
  const left = /\bleft\b/i.test(text);
  if (right === left) return null;
  return right ? "right" : "left";
}

function zoneOf(text) {
  const found = ZONE_WORDS.filter(([, pattern]) => pattern.test(text)).map(([zone]) => zone);
  return found.length === 1 ? found[0] : null;
}

function narrowToZone([x0, y0, x1, y1], zone) {
  const [from, to] = ZONES[zone];
  return [x0, y0 + (y1 - y0) * from, x1, y0 + (y1 - y0) * to];
}

// The patient's right is on the image's left when the file says the columns run towards the patient's left
// (Patient Orientation "L\F", as a frontal film is displayed); "R" in the first place mirrors the image.
export function isMirrored(orientation) {
  return Boolean(orientation) && orientation[0] === "R";
}

// {left, right, top, bottom}: the letter at each edge of the image, from Patient Orientation (0020,0020):
// its first value is the direction of the rows (left to right), its second of the columns (top to bottom).
export function edgeMarkers(orientation) {
  if (!orientation || orientation.length < 2 || !orientation[0] || !orientation[1]) return null;
  const OPPOSITE = { L: "R", R: "L", A: "P", P: "A", H: "F", F: "H" };
  const opposite = (direction) => [...direction].map((letter) => OPPOSITE[letter] || letter).join("");
  return { left: opposite(orientation[0]), right: orientation[0], top: opposite(orientation[1]), bottom: orientation[1] };
}

// The boxes [x0, y0, x1, y1] (fractions of the image) to outline for a step of `region` saying `text`, or [].
export function regionBoxes(region, text, orientation) {
  const shape = REGIONS[region];
  if (!shape) return [];
  let boxes = shape();
  const side = sideOf(text || "");
  if ((region === "pleura" || region === "hila") && side) boxes = [boxes[side === "right" ? 0 : 1]];
  const zone = (region === "right-lung" || region === "left-lung") && zoneOf(text || "");
  if (zone) boxes = boxes.map((box) => narrowToZone(box, zone));
  if (!isMirrored(orientation)) return boxes;
  return boxes.map(([x0, y0, x1, y1]) => [1 - x1, y0, 1 - x0, y1]);
}
