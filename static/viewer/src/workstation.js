// The reading page: wires the viewer, the AI panel, the report form, the event log and the outbox together.
// Study rules live on the server; this page only shows what the API sends and records what the reader does.
import { createViewer } from "./viewer.js";
import "./viewer.css";
import { AIPanel } from "./ai_panel.js";
import { HttpError, getJSON } from "./api.js";
import { Outbox } from "./outbox.js";
import { ReportForm } from "./report_form.js";
import { EventLog, deriveTimes } from "./timing.js";

const AUTOSAVE_MS = 1500;
const EVENT_BATCH_MS = 5000;
const STATUS_TEXT = {
  saved: "Saved",
  saving: "Saving…",
  offline: "Offline — will retry",
  login: "Login expired — log in again; your work is kept",
};

const page = document.body.dataset;
const api = page.api;
const state = { detail: null, submission: null, dirty: false, paused: false };

const statusNode = document.querySelector("[data-testid=save-status]");
const banner = document.getElementById("banner");

function showStatus(outboxState, detail) {
  statusNode.textContent = STATUS_TEXT[outboxState];
  statusNode.dataset.state = outboxState;
  if (outboxState === "login") {
    showBanner("Your login has expired. ", `<a href="${page.login}" target="_blank" rel="noopener">Log in again</a> in a new tab; everything you did here is kept and will be sent.`);
  } else if (!banner.dataset.sticky) {
    banner.hidden = true;
  }
  if (detail && outboxState === "offline") statusNode.title = detail;
}

function showBanner(text, html = "", sticky = false) {
  banner.hidden = false;
  banner.textContent = text;
  if (html) banner.insertAdjacentHTML("beforeend", html);
  if (sticky) banner.dataset.sticky = "1";
}

const log = new EventLog({});
const outbox = new Outbox(page.userKey, {
  onState: showStatus,
  onDelivered(entry, body) {
    if (entry.kind === "submit" && entry.assignment === page.assignment) window.location.assign(body.next_url);
  },
  onRejected(entry, error) {
    if (entry.assignment !== page.assignment) return;
    if (entry.kind === "submit") {
      // The refused submit's events are still part of the reading, except the submit itself.
      const events = entry.body.events.filter((e) => e.type !== "submit");
      if (events.length) outbox.add({ kind: "events", assignment: entry.assignment, method: "POST", url: `${api}events/`, body: { events } });
      log.all = log.all.filter((e) => e.type !== "submit");
      state.submission = null;
      state.form.setBusy(false);
      state.form.showErrors(error.body.errors || {}, error.message);
    } else if (entry.kind === "draft" || entry.kind === "annotation") {
      showBanner(`Not saved: ${error.message}`);
    }
  },
});

function queueEvents({ keepalive = false } = {}) {
  const events = log.take();
  if (events.length) {
    outbox.add({ kind: "events", assignment: page.assignment, method: "POST", url: `${api}events/`, body: { events } });
  }
  if (keepalive) outbox.sendBeforeUnload();
}

function queueDraft() {
  if (!state.form || state.submission) return;
  state.dirty = false;
  outbox.add({ kind: "draft", assignment: page.assignment, method: "PUT", url: `${api}draft/`,
    body: state.form.value(), coalesce: `draft:${page.assignment}` });
}

let autosaveTimer = null;
function draftChanged() {
  state.dirty = true;
  statusNode.textContent = STATUS_TEXT.saving;
  clearTimeout(autosaveTimer);
  autosaveTimer = setTimeout(queueDraft, AUTOSAVE_MS);
}

function submit() {
  if (state.submission || outbox.pending((e) => e.kind === "submit" && e.assignment === page.assignment).length) return;
  const errors = state.form.validate();
  state.form.showErrors(errors);
  if (Object.keys(errors).length) return;
  clearTimeout(autosaveTimer);
  log.log("submit");
  const times = deriveTimes(log.all, Number(page.idleThresholdMs));
  state.submission = crypto.randomUUID();
  state.form.setBusy(true, "Submitting…");
  outbox.add({
    kind: "submit", assignment: page.assignment, method: "POST", url: `${api}submit/`,
    body: { ...state.form.value(), submission_uuid: state.submission, events: log.take(),
      client_times: { page_load_id: log.pageLoadId, ...times } },
  });
}

function setPaused(paused) {
  if (paused === state.paused) return;
  state.paused = paused;
  log.log(paused ? "pause" : "resume");
  document.getElementById("pause-overlay").hidden = !paused;
  document.body.classList.toggle("paused", paused);
  queueEvents();
}

function wirePageControls() {
  document.getElementById("pause").addEventListener("click", () => setPaused(true));
  document.getElementById("resume").addEventListener("click", () => setPaused(false));
  const instructions = document.getElementById("instructions-dialog");
  document.getElementById("instructions-button").addEventListener("click", () => instructions.showModal());
  document.getElementById("logout-form").addEventListener("submit", logOut);
  window.addEventListener("pagehide", () => queueEvents({ keepalive: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      if (state.dirty) queueDraft();
      queueEvents({ keepalive: true });
    }
  });
  wireDivider();
}

// Logging out sends what is queued first; the queue is then cleared, since the next user may be someone else.
async function logOut(event) {
  event.preventDefault();
  const form = event.target;
  if (state.dirty) queueDraft();
  queueEvents();
  await outbox.flush();
  if (outbox.pending().length &&
      !window.confirm("Some of your reading could not be sent to the server yet. Log out anyway and lose it?")) {
    return;
  }
  outbox.clear();
  form.submit();
}

function wireDivider() {
  const split = document.getElementById("split");
  const divider = document.getElementById("divider");
  const saved = Number(localStorage.getItem("readerstudy:split"));
  if (saved) split.style.setProperty("--side-width", `${saved}px`);
  divider.addEventListener("pointerdown", (down) => {
    divider.setPointerCapture(down.pointerId);
    const move = (event) => {
      const width = Math.min(Math.max(window.innerWidth - event.clientX, 320), window.innerWidth * 0.6);
      split.style.setProperty("--side-width", `${width}px`);
      localStorage.setItem("readerstudy:split", String(Math.round(width)));
      window.dispatchEvent(new Event("resize"));
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", () => divider.removeEventListener("pointermove", move), { once: true });
  });
}

// The AI appears only after the first image has rendered, and the server checks that it was logged.
async function showAI() {
  queueEvents();
  await outbox.flush();
  for (let attempt = 0; attempt < 20; attempt += 1) {
    try {
      const [content, annotations] = await Promise.all([getJSON(`${api}ai/`), getJSON(`${api}annotations/`)]);
      state.ai.show(content, annotations);
      log.log("ai_panel_shown");
      log.watchScroll(document.getElementById("side"));
      return;
    } catch (error) {
      // 409: the image_rendered event has not arrived yet; a network error: try again too.
      if (error instanceof HttpError && error.status !== 409) {
        state.ai.section.querySelector(".ai-placeholder").textContent = error.message;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await outbox.flush();
    }
  }
}

function queuedDraft() {
  const entry = outbox.pending((e) => e.coalesce === `draft:${page.assignment}`).pop();
  return entry && entry.body;
}

async function start() {
  log.log("page_shown", { visibility: document.visibilityState });
  log.watchVisibility();
  log.watchInput();
  wirePageControls();
  setInterval(queueEvents, EVENT_BATCH_MS);
  setInterval(() => state.dirty && queueDraft(), EVENT_BATCH_MS * 2);
  outbox.flush();

  let detail;
  try {
    detail = await getJSON(api);
  } catch (error) {
    showBanner(error instanceof HttpError ? error.message : "The server cannot be reached. Reload the page to try again.", "", true);
    return;
  }
  state.detail = detail;
  document.querySelector("[data-testid=position]").textContent =
    `Session ${detail.session} · case ${detail.position} of ${detail.session_total} · ${detail.arm_name}`;
  state.form = new ReportForm(document.getElementById("report-form"), {
    labels: detail.labels, questions: detail.questions, onChange: draftChanged, onSubmit: submit,
  });
  state.form.setValue(queuedDraft() || await getJSON(`${api}draft/`));
  if (detail.ai !== "none") {
    state.ai = new AIPanel(document.getElementById("ai-section"), {
      vocabulary: detail.labels,
      onAnnotationWrite(method, id, body) {
        const url = method === "POST" ? `${api}annotations/` : `${api}annotations/${id}/`;
        outbox.add({ kind: "annotation", assignment: page.assignment, method, url, body });
      },
      onAnnotationAdded(annotation) {
        log.log("annotation_added", { target: annotation.target, category: annotation.category });
      },
    });
  }

  let rendered = false;
  state.viewer = await createViewer(document.getElementById("viewer"), {
    images: detail.images,
    onFirstImageRendered() {
      if (rendered) return;
      rendered = true;
      log.log("image_rendered");
      if (state.ai) showAI();
    },
    onInteraction({ kind, phase }) {
      log.log(phase === "start" ? "interaction_start" : "interaction_end", { kind });
    },
    onError(message) {
      showBanner(`${message} You can flag a problem with this case below.`);
    },
  });
  // The next case's images go into the browser's cache while this one is read.
  if (detail.next) state.viewer.prefetch(detail.next.images.map((image) => image.url));
  if (statusNode.textContent === "Loading…") showStatus(outbox.state);
}

start();
