// A radiograph viewer in the shape of Cornerstone3D's own examples: init once, one rendering engine, one
// stack viewport, one tool group. Study logic stays outside; the page learns what happens through callbacks.
import {
  Enums, RenderingEngine, eventTarget, getShouldUseCPURendering, init as initCore, metaData, utilities,
} from "@cornerstonejs/core";
import { init as initLoader } from "@cornerstonejs/dicom-image-loader";
import {
  Enums as ToolEnums, LengthTool, MagnifyTool, PanTool, ToolGroupManager, WindowLevelTool, ZoomTool, addTool,
  init as initTools,
} from "@cornerstonejs/tools";

import { el } from "./dom.js";
import { edgeMarkers, regionBoxes } from "./regions.js";

const ENGINE_PREFIX = "readerstudy";
const VIEWPORT_ID = "radiograph";
const TOOL_GROUP_PREFIX = "radiograph-tools";
const WHEEL_SETTLE_MS = 400;
// One wheel notch (deltaY 100) zooms by this factor about the pointer; a key press by KEY_ZOOM about the centre.
const WHEEL_ZOOM = 1.15;
const KEY_ZOOM = 1.25;
const { MouseBindings } = ToolEnums;
const PRIMARY_TOOLS = {
  windowlevel: WindowLevelTool.toolName, pan: PanTool.toolName, zoom: ZoomTool.toolName, length: LengthTool.toolName,
  magnify: MagnifyTool.toolName,
};

// Radiographs (DX/CR) have no Hounsfield scale, so the chest presets are fractions of the image's own value
// range (stored min..max after rescale), from dark to bright as displayed: lungs sit low, mediastinum and soft
// tissue in the middle, bone high. "Full range" maps the whole range linearly.
const CHEST_PRESETS = [
  { id: "full", name: "Full range", centre: 0.5, width: 1.0 },
  { id: "lung", name: "Lung", centre: 0.35, width: 0.55 },
  { id: "mediastinum", name: "Mediastinum / soft tissue", centre: 0.6, width: 0.45 },
  { id: "bone", name: "Bone", centre: 0.75, width: 0.35 },
];

// Tab is left to the page: it moves focus through the report form.
const SHORTCUTS = [
  ["W", "window/level"], ["P", "pan"], ["Z", "zoom"], ["L", "magnifier"], ["M", "measure"], ["I", "invert"],
  ["F", "fit"], ["O", "1:1 pixels"], ["R", "reset"], ["+ −", "zoom"], ["← → PgUp PgDn", "image"], ["1–9", "presets"],
  ["wheel", "zoom"], ["right/middle drag", "pan"], ["F6", "next pane"], ["Ctrl+Enter", "submit"],
];

let initialised = null;
function initCornerstone() {
  // Core's init detects a browser without WebGL and switches itself to CPU rendering; nothing else is needed.
  initialised ||= (async () => {
    initCore();
    initLoader({ maxWebWorkers: Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4) - 1) });
    initTools();
    for (const tool of [WindowLevelTool, PanTool, ZoomTool, LengthTool, MagnifyTool]) addTool(tool);
  })();
  return initialised;
}


// Keys belong to the page, not the viewer, where the reader types or chooses: a text field, a menu, an editor;
// and a radio button's arrows and a box's space. A ticked checkbox leaves the viewer's letters working.
const CHOOSING_KEYS = new Set(["arrowleft", "arrowright", "arrowup", "arrowdown", " "]);
function belongsToPage(target, key) {
  if (!target.closest) return false;
  if (target.closest("textarea, select, [contenteditable], dialog, [data-keys=own]")) return true;
  if (target.tagName !== "INPUT") return false;
  return !["checkbox", "radio", "button", "submit"].includes(target.type) || CHOOSING_KEYS.has(key);
}

// A lateral beside the frontal: the view positions of a lateral chest film.
export const isLateral = (image) => /^(LL|RL|LAT|LATERAL)\b/i.test(image.label || "");

// `name`: one viewer per name on a page (a companion view beside the main one); `keys`: whether the page's
// keys drive this viewer (only the main one's); `testid`: the image's data-testid.
export async function createViewer(element, {
  images, onFirstImageRendered, onInteraction, onError, onRecovered = () => {}, name = "main", keys: takesKeys = true,
  testid = "image",
}) {
  await initCornerstone();
  const ENGINE_ID = `${ENGINE_PREFIX}-${name}`;
  const TOOL_GROUP_ID = `${TOOL_GROUP_PREFIX}-${name}`;
  const imageIds = images.map((image) => `wadouri:${new URL(image.url, window.location.href)}`);
  // Focusable, so that the reader (and F6) can bring the keys back to the image.
  const canvasHost = el("div", { class: "cxr-canvas", tabindex: "0", "aria-label": "Radiograph", "data-testid": testid });
  const loading = el("div", { class: "cxr-loading" }, "Loading image…");
  const failureText = el("span", { "data-testid": "image-error" });
  const retry = el("button", { type: "button", "data-testid": "image-retry" }, "Try again");
  const failure = el("div", { class: "cxr-error", role: "alert", hidden: "" }, failureText, " ", retry);
  const toolbar = el("div", { class: "cxr-toolbar" });
  const legend = el("div", { class: "cxr-legend" }, SHORTCUTS.map(([key, what]) => `${key} ${what}`).join(" · "));
  // Drawn over the image, never catching the pointer: the outline of a region, the orientation letters, and
  // the window and zoom in a corner.
  const outline = el("div", { class: "cxr-outline", "data-testid": "region-outline", hidden: "" });
  const markers = el("div", { class: "cxr-markers", "data-testid": "orientation-markers" });
  const info = el("div", { class: "cxr-info", "data-testid": "view-info" });
  const overlay = el("div", { class: "cxr-overlay" }, outline, markers, info);
  element.classList.add("cxr-viewer");
  element.replaceChildren(toolbar, canvasHost, loading, failure, legend);
  canvasHost.append(overlay);
  canvasHost.addEventListener("contextmenu", (event) => event.preventDefault());
  // Cornerstone's own key listener swallows every key on the image (preventDefault), Tab included: Tab is the
  // browser's, to leave the image.
  canvasHost.addEventListener("keydown", (event) => {
    if (event.key === "Tab") event.stopImmediatePropagation();
  }, true);
  setState("loading");
  element.dataset.imageIndex = "0";
  element.dataset.renderedCount = "0";
  element.dataset.invert = "false";
  element.dataset.renderer = getShouldUseCPURendering() ? "cpu" : "webgl";

  const engine = new RenderingEngine(ENGINE_ID);
  engine.enableElement({ viewportId: VIEWPORT_ID, type: Enums.ViewportType.STACK, element: canvasHost,
    defaultOptions: { background: [0, 0, 0] } });
  const viewport = engine.getViewport(VIEWPORT_ID);
  const tools = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  for (const name of Object.values(PRIMARY_TOOLS)) tools.addTool(name);
  tools.addViewport(VIEWPORT_ID, ENGINE_ID);
  tools.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }, { mouseButton: MouseBindings.Secondary }] });
  let primary = null;
  let presets = [];
  let naturalInvert = false; // MONOCHROME1 is shown through Cornerstone's invert; that is not the reader's invert

  function setState(state) {
    element.dataset.state = state;
    loading.hidden = state !== "loading";
  }

  function setTool(name) {
    if (!PRIMARY_TOOLS[name]) return;
    if (primary) tools.setToolPassive(PRIMARY_TOOLS[primary]);
    // Pan keeps its middle/right-button bindings besides the left button (the wheel zooms by itself, below).
    const keep = name === "pan" ? [MouseBindings.Auxiliary, MouseBindings.Secondary] : [];
    tools.setToolActive(PRIMARY_TOOLS[name], {
      bindings: [{ mouseButton: MouseBindings.Primary }, ...keep.map((mouseButton) => ({ mouseButton }))],
    });
    if (primary === "pan" && name !== primary) {
      tools.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }, { mouseButton: MouseBindings.Secondary }] });
    }
    primary = name;
    for (const button of toolbar.querySelectorAll("[data-tool]")) button.classList.toggle("active", button.dataset.tool === name);
  }

  // --- interactions: one start and one end per gesture, never one event per mouse move -------------------
  // Cornerstone also moves the camera and VOI by itself (stack set-up, resizes), so a change counts as the
  // reader's only while a mouse button is down on the image or a wheel turn is recent.
  let gesture = null;
  let pointerDown = false;
  let wheelAt = -Infinity;
  let settleTimer = null;
  let quiet = false; // our own changes (presets, reset) are not the reader's gestures
  const byReader = () => !quiet && (pointerDown || performance.now() - wheelAt < WHEEL_SETTLE_MS);

  function touched(kind) {
    if (!gesture) {
      gesture = kind;
      onInteraction({ kind, phase: "start" });
    }
    clearTimeout(settleTimer);
    if (!pointerDown) settleTimer = setTimeout(endGesture, WHEEL_SETTLE_MS);
  }

  function endGesture() {
    clearTimeout(settleTimer);
    if (gesture) onInteraction({ kind: gesture, phase: "end" });
    gesture = null;
  }

  // Capture phase, so these run before Cornerstone's own listeners on the same element.
  canvasHost.addEventListener("pointerdown", (event) => {
    pointerDown = true;
    if (primary === "length" && event.button === 0) touched("measure");
  }, true);
  // The wheel zooms about the pointer by WHEEL_ZOOM a notch; Cornerstone's own wheel zoom (a few percent a
  // notch) never sees the event.
  canvasHost.addEventListener("wheel", (event) => {
    wheelAt = performance.now();
    event.preventDefault();
    event.stopImmediatePropagation();
    const notches = event.deltaMode === 1 ? event.deltaY / 3 : event.deltaY / 100;
    const bounds = canvasHost.getBoundingClientRect();
    zoomBy(WHEEL_ZOOM ** -Math.max(-3, Math.min(3, notches)), [event.clientX - bounds.left, event.clientY - bounds.top]);
  }, { capture: true, passive: false });
  const onPointerUp = () => {
    if (!pointerDown) return;
    pointerDown = false;
    endGesture();
  };
  window.addEventListener("pointerup", onPointerUp);

  let lastScale = null;
  canvasHost.addEventListener(Enums.Events.VOI_MODIFIED, () => {
    showVoi();
    if (byReader()) touched("windowlevel");
  });
  canvasHost.addEventListener(Enums.Events.CAMERA_MODIFIED, () => {
    const scale = viewport.getCamera().parallelScale;
    const zoomed = lastScale !== null && Math.abs(scale - lastScale) > 1e-6;
    lastScale = scale;
    placeOverlay();
    if (byReader()) touched(zoomed ? "zoom" : "pan");
  });

  // Zoom by `factor` keeping the image point under `at` (canvas pixels; the centre if not given) in place.
  function zoomBy(factor, at) {
    wheelAt = performance.now(); // a zoom the reader asked for, by wheel or key
    const camera = viewport.getCamera();
    const centre = at ? viewport.canvasToWorld(at) : camera.focalPoint;
    const keep = (point) => point.map((value, i) => centre[i] + (value - centre[i]) / factor);
    viewport.setCamera({ parallelScale: camera.parallelScale / factor, focalPoint: keep(camera.focalPoint),
      position: keep(camera.position) });
    viewport.render();
  }

  // The scale at which one image pixel is one device pixel (the camera's parallel scale is half the visible
  // height in mm); the zoom shown is relative to it, as PACS viewers show it.
  function oneToOneScale() {
    const spacing = viewport.getImageData().spacing[1] || 1;
    return (canvasHost.clientHeight * window.devicePixelRatio * spacing) / 2;
  }

  // --- what is drawn over the image -------------------------------------------------------------------------
  let orientation = null;
  let outlined = null; // {region, text} while a reasoning step is pointed at

  // Patient Orientation (0020,0020) from the file, as the loader's naturalized dataset holds it.
  function orientationOf(imageId) {
    const value = (metaData.get("naturalized", imageId) || {}).PatientOrientation;
    const parts = Array.isArray(value) ? value : typeof value === "string" ? value.split("\\") : [];
    return parts.length >= 2 ? parts.map((part) => String(part).trim().toUpperCase()) : null;
  }

  function showMarkers() {
    const letters = edgeMarkers(orientation);
    markers.replaceChildren(...(letters ? Object.entries(letters).map(([edge, letter]) =>
      el("span", { class: `cxr-marker ${edge}`, "data-testid": `marker-${edge}` }, letter)) : []));
  }

  // The window (from showVoi's data-voi, "centre,width") and the zoom, in the image's corner.
  function showInfo() {
    const [centre, width] = (element.dataset.voi || "").split(",");
    const zoom = Math.round((100 * oneToOneScale()) / viewport.getCamera().parallelScale);
    info.textContent = `${width ? `W ${width} L ${centre} · ` : ""}Zoom ${zoom}%`;
  }

  // What is drawn over the image after the view changes: the corner's figures and the outline, whose boxes go
  // from fractions of the image to the canvas through the image's world coordinates (so zoom, pan and fit
  // move it with the image).
  function placeOverlay() {
    const image = viewport.getCornerstoneImage && viewport.getCornerstoneImage();
    if (image) showInfo();
    if (!outlined || !image) {
      outline.hidden = true;
      return;
    }
    const imageId = imageIds[current()];
    const toCanvas = (x, y) => viewport.worldToCanvas(utilities.imageToWorldCoords(imageId, [x * image.width, y * image.height]));
    const boxes = regionBoxes(outlined.region, outlined.text, orientation).map(([x0, y0, x1, y1]) => {
      const [a, b] = [toCanvas(x0, y0), toCanvas(x1, y1)];
      const [left, top] = [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
      // Through the CSSOM: the page's CSP refuses style attributes.
      const box = el("div", { class: "cxr-region" });
      Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${Math.abs(b[0] - a[0])}px`,
        height: `${Math.abs(b[1] - a[1])}px` });
      return box;
    });
    outline.replaceChildren(...boxes);
    outline.dataset.region = outlined.region;
    outline.hidden = boxes.length === 0;
  }

  // "ready" means drawn: the first draw after an image loads, which is also when the reading clock starts.
  let firstRendered = false;
  let awaitingDraw = false;
  canvasHost.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
    element.dataset.renderedCount = String(Number(element.dataset.renderedCount) + 1);
    if (awaitingDraw) {
      awaitingDraw = false;
      setState("ready");
    }
    if (!firstRendered && element.dataset.state === "ready") {
      firstRendered = true;
      onFirstImageRendered();
    }
  });

  function showVoi() {
    const { voiRange, invert } = viewport.getProperties();
    element.dataset.invert = String(Boolean(invert) !== naturalInvert);
    if (!voiRange) return;
    const { windowWidth, windowCenter } = utilities.windowLevel.toWindowLevel(voiRange.lower, voiRange.upper);
    element.dataset.voi = `${Math.round(windowCenter)},${Math.round(windowWidth)}`;
    placeOverlay();
  }

  function quietly(change) {
    quiet = true;
    try {
      change();
      viewport.render();
    } finally {
      quiet = false;
    }
    lastScale = viewport.getCamera().parallelScale;
    showVoi();
  }

  // --- presets: the file's own windows first, then the chest presets over the image's value range ---------
  function presetsFor(imageId) {
    const voi = metaData.get("voiLutModule", imageId) || {};
    const centres = [].concat(voi.windowCenter || []);
    const widths = [].concat(voi.windowWidth || []);
    const names = [].concat(voi.windowCenterWidthExplanation || []);
    const own = centres.map((centre, i) => ({ id: `file-${i}`, name: names[i] || `File window ${i + 1}`,
      centre: Number(centre), width: Number(widths[i]) })).filter((p) => p.width > 0);
    const image = viewport.getCornerstoneImage();
    const slope = image.slope || 1;
    const intercept = image.intercept || 0;
    const [low, high] = [image.minPixelValue * slope + intercept, image.maxPixelValue * slope + intercept].sort((a, b) => a - b);
    const span = Math.max(high - low, 1);
    // MONOCHROME1 shows high values dark, so "dark" fractions count from the top of the range.
    const chest = CHEST_PRESETS.map((p) => ({ ...p, centre: naturalInvert ? high - p.centre * span : low + p.centre * span,
      width: p.width * span }));
    return [...own, ...chest];
  }

  const voiRangeOf = (preset) => utilities.windowLevel.toLowHighRange(preset.width, preset.centre);

  function setPreset(id) {
    const preset = presets.find((p) => p.id === id);
    if (!preset) return;
    quietly(() => viewport.setProperties({ voiRange: voiRangeOf(preset) }));
    presetMenu.value = id;
  }

  // The initial view is the file's first window (else the full range), as Cornerstone chooses on load. Not
  // viewport.resetProperties(): on the GPU path it restores the colour nodes captured before MONOCHROME1's
  // inversion while keeping the invert flag, which shows MONOCHROME1 images with black bones.
  function resetView() {
    viewport.resetCamera();
    viewport.setProperties({ voiRange: voiRangeOf(presets[0]), invert: naturalInvert });
    presetMenu.value = "";
  }

  // --- navigation and view ----------------------------------------------------------------------------------
  // Some load failures only arrive as an event (the GPU path's promise never settles), so race the two.
  function loaded(loading) {
    let listener;
    const failed = new Promise((_, reject) => {
      listener = (event) => {
        if (event.detail && imageIds.includes(event.detail.imageId)) reject(event.detail.error);
      };
      eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, listener);
    });
    return Promise.race([loading, failed]).finally(() => eventTarget.removeEventListener(Enums.Events.IMAGE_LOAD_ERROR, listener));
  }

  let request = 0; // a quick second switch wins over a slow first one
  async function showImage(index) {
    if (index < 0 || index >= imageIds.length) return;
    wanted = index;
    const mine = ++request;
    setState("loading");
    failure.hidden = true;
    try {
      await loaded(viewport.setImageIdIndex(index));
    } catch (error) {
      if (mine === request) fail(error);
      return;
    }
    if (mine !== request) return;
    element.dataset.imageIndex = String(index);
    // Cornerstone 5.14's CPU path skips the pixel-spacing calibration that its GPU path does for projection
    // radiographs (no image position/orientation), so the Length tool would label millimetres "px".
    if (getShouldUseCPURendering()) viewport.calibrateIfNecessary(imageIds[index], { ...metaData.get("imagePlaneModule", imageIds[index]) });
    naturalInvert = (metaData.get("imagePixelModule", imageIds[index]) || {}).photometricInterpretation === "MONOCHROME1";
    orientation = orientationOf(imageIds[index]);
    element.dataset.orientation = orientation ? orientation.join("\\") : "";
    showMarkers();
    presets = presetsFor(imageIds[index]);
    presetMenu.replaceChildren(el("option", { value: "" }, "Window presets"),
      ...presets.map((p, i) => el("option", { value: p.id }, `${i < 9 ? `${i + 1}. ` : ""}${p.name}`)));
    quietly(resetView);
    for (const button of toolbar.querySelectorAll("[data-image]")) button.classList.toggle("active", Number(button.dataset.image) === index);
    awaitingDraw = true;
    viewport.render();
  }

  let stacked = false; // the stack is set: a retry loads one image again, else the stack itself
  let wanted = 0;
  function fail(error) {
    const status = error && (error.status ?? error.request?.status ?? error.error?.status);
    failureText.textContent = `The image could not be loaded${status ? ` (HTTP ${status})` : ""}.`;
    failure.hidden = false;
    setState("error");
    onError(failureText.textContent);
  }

  async function openStack(index) {
    try {
      await loaded(viewport.setStack(imageIds, index));
    } catch (error) {
      fail(error);
      return;
    }
    stacked = true;
    await showImage(index);
  }

  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await (stacked ? showImage(wanted) : openStack(wanted));
    } finally {
      retry.disabled = false;
    }
    if (element.dataset.state !== "error") onRecovered();
  });

  const current = () => Number(element.dataset.imageIndex);
  const viewer = {
    showImage,
    next: () => showImage((current() + 1) % imageIds.length),
    previous: () => showImage((current() - 1 + imageIds.length) % imageIds.length),
    reset: () => quietly(resetView),
    fit: () => quietly(() => viewport.resetCamera()),
    // One image pixel per device pixel (the canvas is sized in device pixels): the camera's parallel scale is
    // half the visible height in mm.
    oneToOne: () => quietly(() => viewport.setCamera({ parallelScale: oneToOneScale() })),
    zoomIn: () => zoomBy(KEY_ZOOM),
    zoomOut: () => zoomBy(1 / KEY_ZOOM),
    // A reasoning step pointed at: outline the region it names (null: none). Only the first image is frontal.
    outline: (step) => {
      outlined = step && current() === 0 ? step : null;
      placeOverlay();
    },
    invert: () => quietly(() => viewport.setProperties({ invert: !viewport.getProperties().invert })),
    setPreset,
    setTool,
    // The next case opens as a new page, so its files are wanted in the browser's HTTP cache (the API allows
    // private caching), not in this page's Cornerstone cache; nothing is decoded or rendered. Best effort.
    prefetch: (urls) => Promise.allSettled((urls || []).map((url) => fetch(new URL(url, window.location.href),
      { credentials: "same-origin" }).then((response) => response.ok && response.arrayBuffer()))).then(() => undefined),
    destroy: () => {
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("pointerup", onPointerUp);
      clearTimeout(settleTimer);
      resizer.disconnect();
      ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
      engine.destroy();
      element.replaceChildren();
    },
  };

  // --- toolbar and keys ------------------------------------------------------------------------------------
  const presetMenu = el("select", { class: "cxr-presets", title: "Window presets (1–9)" });
  presetMenu.addEventListener("change", () => {
    setPreset(presetMenu.value);
    presetMenu.blur(); // so that the digit and letter keys reach the viewer again
  });
  const button = (label, title, action, data = {}) => {
    const node = el("button", { type: "button", title, ...data }, label);
    node.addEventListener("click", () => {
      action();
      node.blur();
    });
    return node;
  };
  toolbar.append(
    button("W/L", "Window/level (W)", () => setTool("windowlevel"), { "data-tool": "windowlevel" }),
    button("Pan", "Pan (P; right or middle drag always)", () => setTool("pan"), { "data-tool": "pan" }),
    button("Zoom", "Zoom (Z; wheel zooms always)", () => setTool("zoom"), { "data-tool": "zoom" }),
    button("Magnify", "Magnifier: hold the left button on the image (L)", () => setTool("magnify"), { "data-tool": "magnify" }),
    button("Measure", "Length measurement (M)", () => setTool("length"), { "data-tool": "length" }),
    presetMenu,
    button("Invert", "Invert (I)", viewer.invert),
    button("Fit", "Fit to window (F)", viewer.fit),
    button("1:1", "One image pixel per screen pixel (O)", viewer.oneToOne),
    button("Reset", "Reset (R)", viewer.reset),
  );
  if (images.length > 1) {
    toolbar.append(el("span", { class: "cxr-sep" }),
      ...images.map((image, i) => button(image.label, `Show ${image.label} (← →)`, () => showImage(i), { "data-image": String(i) })));
  }

  const keys = {
    w: () => setTool("windowlevel"), p: () => setTool("pan"), z: () => setTool("zoom"), m: () => setTool("length"),
    l: () => setTool("magnify"), "+": viewer.zoomIn, "=": viewer.zoomIn, "-": viewer.zoomOut, i: viewer.invert, f: viewer.fit, o: viewer.oneToOne, r: viewer.reset,
    arrowright: viewer.next, arrowleft: viewer.previous, pagedown: viewer.next, pageup: viewer.previous,
  };
  function onKey(event) {
    const key = event.key.toLowerCase();
    if (event.ctrlKey || event.metaKey || event.altKey || belongsToPage(event.target, key)) return;
    if (/^[1-9]$/.test(key) && presets[Number(key) - 1]) {
      setPreset(presets[Number(key) - 1].id);
    } else if (keys[key]) {
      keys[key]();
    } else {
      return;
    }
    event.preventDefault();
  }
  if (takesKeys) document.addEventListener("keydown", onKey);
  const resizer = new ResizeObserver(() => engine.resize(true, true));
  resizer.observe(canvasHost);

  setTool("windowlevel");
  await openStack(0);
  return viewer;
}
