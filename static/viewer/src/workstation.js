// The reading page: wires the viewer, the AI panel, the report form, the event log and the outbox together.
// Study rules live on the server; this page only shows what the API sends (its rules included) and records
// what the reader does. One Workstation owns the page's state; each part keeps its own and is told what to do.
import { createViewer, isLateral } from "./viewer.js";
import "./viewer.css";
import { AIPanel } from "./ai_panel.js";
import { HttpError, getJSON } from "./api.js";
import { Outbox } from "./outbox.js";
import { ReportForm } from "./report_form.js";
import { EventLog, deriveTimes } from "./timing.js";

const AUTOSAVE_MS = 1500;
const EVENT_BATCH_MS = 5000;
const AI_TRIES = 20; // one a second: the server answers 409 until it has the image_rendered event
const DRAFT_TRIES = 4;
const STATUS_TEXT = {
  saved: "Saved",
  saving: "Saving…",
  offline: "Offline — will retry",
  login: "Login expired — log in again; your work is kept",
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A request worth repeating: the network is down, or the server is in trouble of its own.
const isTransient = (error) => !(error instanceof HttpError) || error.status >= 500;
const isNotYet = (error) => error instanceof HttpError && error.status === 409;
function reasonOf(error) {
  if (!(error instanceof HttpError)) return "the server cannot be reached";
  return error.status === 401 ? "your login has expired (log in again in a new tab)" : error.message.replace(/\.$/, "");
}

class Workstation {
  constructor(page) {
    this.page = page;
    this.api = page.api;
    this.submission = null; // the submit's UUID while it is on its way
    this.firstSubmission = null; // a sequential read's first report's UUID, likewise
    this.sequential = false;
    this.committed = false; // the first report of a sequential read is on the server
    this.imageShown = false;
    this.dirty = false; // the form changed since the last draft was queued
    this.paused = false;
    this.form = null;
    this.ai = null;
    this.viewer = null;
    this.autosaveTimer = null;
    this.loadingAI = false;
    this.statusNode = document.querySelector("[data-testid=save-status]");
    this.banner = document.getElementById("banner");
    this.log = new EventLog();
    this.outbox = new Outbox(page.userKey, {
      onState: (state, detail) => this.showStatus(state, detail),
      onDelivered: (entry, body) => this.delivered(entry, body),
      onRejected: (entry, error) => this.rejected(entry, error),
    });
  }

  // --- what the reader is told ---------------------------------------------------------------------------

  showStatus(outboxState, detail) {
    this.statusNode.textContent = STATUS_TEXT[outboxState];
    this.statusNode.dataset.state = outboxState;
    if (outboxState === "login") {
      this.showBanner("Your login has expired. ", `<a href="${this.page.login}" target="_blank" rel="noopener">Log in again</a> in a new tab; everything you did here is kept and will be sent.`);
    } else if (!this.banner.dataset.sticky) {
      this.banner.hidden = true;
    }
    if (detail && outboxState === "offline") this.statusNode.title = detail;
  }

  // `sticky`: stays until the page is reloaded (the page cannot go on without what failed).
  showBanner(text, html = "", sticky = false) {
    this.banner.hidden = false;
    this.banner.textContent = text;
    if (html) this.banner.insertAdjacentHTML("beforeend", html);
    if (sticky) this.banner.dataset.sticky = "1";
  }

  // --- the outbox's answers ------------------------------------------------------------------------------

  delivered(entry, body) {
    if (entry.assignment !== this.page.assignment) return;
    if (entry.kind === "submit") window.location.assign(body.next_url);
    else if (entry.kind === "first-read") this.firstReadCommitted();
  }

  rejected(entry, error) {
    if (entry.assignment !== this.page.assignment) return;
    if (entry.kind === "submit" || entry.kind === "first-read") {
      // The refused write's events are still part of the reading, except its own (submit, unaided_commit).
      const own = entry.kind === "submit" ? "submit" : "unaided_commit";
      const events = entry.body.events.filter((e) => e.type !== own);
      if (events.length) this.outbox.add({ kind: "events", assignment: entry.assignment, method: "POST", url: `${this.api}events/`, body: { events } });
      this.log.discard(own);
      this.submission = null;
      this.firstSubmission = null;
      this.form.setBusy(false);
      this.form.showErrors(error.body.errors || {}, error.message);
    } else {
      this.showBanner(`Not saved: ${error.message} Reload the page to see where this reading stands.`);
    }
  }

  // --- writes --------------------------------------------------------------------------------------------

  queueEvents({ keepalive = false } = {}) {
    const events = this.log.take();
    if (events.length) {
      this.outbox.add({ kind: "events", assignment: this.page.assignment, method: "POST", url: `${this.api}events/`, body: { events } });
    }
    if (keepalive) this.outbox.sendBeforeUnload();
  }

  queueDraft() {
    if (!this.form || this.form.locked || this.submission) return;
    this.dirty = false;
    this.outbox.add({ kind: "draft", assignment: this.page.assignment, method: "PUT", url: `${this.api}draft/`,
      body: this.form.value(), coalesce: `draft:${this.page.assignment}` });
  }

  draftChanged() {
    this.dirty = true;
    this.statusNode.textContent = STATUS_TEXT.saving;
    clearTimeout(this.autosaveTimer);
    this.autosaveTimer = setTimeout(() => this.queueDraft(), AUTOSAVE_MS);
  }

  submit() {
    const page = this.page;
    if (this.submission || this.outbox.pending((e) => e.kind === "submit" && e.assignment === page.assignment).length) return;
    const errors = this.form.validate();
    this.form.showErrors(errors);
    if (Object.keys(errors).length) return;
    clearTimeout(this.autosaveTimer);
    this.log.log("submit");
    const times = deriveTimes(this.log.all, Number(page.idleThresholdMs));
    this.submission = crypto.randomUUID();
    this.form.setBusy(true, "Submitting…");
    this.outbox.add({
      kind: "submit", assignment: page.assignment, method: "POST", url: `${this.api}submit/`,
      body: { ...this.form.value(), submission_uuid: this.submission, events: this.log.take(),
        client_times: { page_load_id: this.log.pageLoadId, ...times } },
    });
  }

  // A sequential read's first report, without the AI: committed once (idempotent by its UUID), then the AI.
  commitFirstRead() {
    const page = this.page;
    if (this.firstSubmission || this.outbox.pending((e) => e.kind === "first-read" && e.assignment === page.assignment).length) return;
    const errors = this.form.validateFirst();
    this.form.showErrors(errors);
    if (Object.keys(errors).length) return;
    this.log.log("unaided_commit");
    this.firstSubmission = crypto.randomUUID();
    this.form.setBusy(true, "Committing…");
    this.outbox.add({ kind: "first-read", assignment: page.assignment, method: "POST", url: `${this.api}unaided/`,
      body: { ...this.form.firstRead(), submission_uuid: this.firstSubmission, events: this.log.take() } });
  }

  firstReadCommitted() {
    this.committed = true;
    this.firstSubmission = null;
    this.form.setPhase("second");
    this.form.setBusy(false);
    if (this.imageShown) this.showAI();
  }

  // --- the page's own controls ---------------------------------------------------------------------------

  setPaused(paused) {
    if (paused === this.paused) return;
    this.paused = paused;
    this.log.log(paused ? "pause" : "resume");
    document.getElementById("pause-overlay").hidden = !paused;
    document.body.classList.toggle("paused", paused);
    if (paused) document.getElementById("resume").focus();
    this.queueEvents();
  }

  // The page's keys, before any part sees them. While paused, every key but Resume's does nothing (the hidden
  // image must not change, nor the report). Ctrl+Enter asks to submit; F6 moves between the panes.
  onKey(event) {
    if (this.paused) {
      const resume = document.getElementById("resume");
      const pressesResume = event.target === resume && (event.key === "Enter" || event.key === " ");
      if (!pressesResume) {
        event.preventDefault();
        event.stopImmediatePropagation();
        resume.focus();
      }
      return;
    }
    // Inside a part with keys of its own (the error editor, the submit question), Ctrl+Enter is that part's.
    const own = event.target.closest && event.target.closest("[data-keys=own]");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && this.form && !own) {
      event.preventDefault();
      this.form.askToSubmit();
    } else if (event.key === "F6") {
      event.preventDefault();
      this.focusPane(event.shiftKey ? -1 : 1);
    }
  }

  // The viewer, the AI output, the report, in turn: each gets the focus as a whole or at its first control.
  focusPane(step) {
    const panes = [
      document.querySelector("[data-testid=image]"),
      this.ai && this.ai.section,
      document.querySelector("#report-form input[name=finding]"),
    ].filter(Boolean);
    const current = panes.findIndex((pane) => (pane.closest(".ws-pane") || pane).contains(document.activeElement));
    const next = current < 0 ? (step > 0 ? 0 : panes.length - 1) : (current + step + panes.length) % panes.length;
    panes[next].focus();
  }

  wirePageControls() {
    window.addEventListener("keydown", (event) => this.onKey(event), true);
    document.getElementById("pause").addEventListener("click", () => this.setPaused(true));
    document.getElementById("resume").addEventListener("click", () => this.setPaused(false));
    const instructions = document.getElementById("instructions-dialog");
    document.getElementById("instructions-button").addEventListener("click", () => instructions.showModal());
    document.getElementById("logout-form").addEventListener("submit", (event) => this.logOut(event));
    window.addEventListener("pagehide", () => this.queueEvents({ keepalive: true }));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") {
        if (this.dirty) this.queueDraft();
        this.queueEvents({ keepalive: true });
      }
    });
    wireDivider();
  }

  // Logging out sends what is queued first; the queue is then cleared, since the next user may be someone else.
  async logOut(event) {
    event.preventDefault();
    const form = event.target;
    if (this.dirty) this.queueDraft();
    this.queueEvents();
    await this.outbox.flush();
    if (this.outbox.pending().length &&
        !window.confirm("Some of your reading could not be sent to the server yet. Log out anyway and lose it?")) {
      return;
    }
    this.outbox.clear();
    form.submit();
  }

  // --- reading -------------------------------------------------------------------------------------------

  async start() {
    this.log.log("page_shown", { visibility: document.visibilityState });
    this.log.watchVisibility();
    this.log.watchInput();
    this.wirePageControls();
    setInterval(() => this.queueEvents(), EVENT_BATCH_MS);
    setInterval(() => this.dirty && this.queueDraft(), EVENT_BATCH_MS * 2);
    this.outbox.flush();

    let detail;
    try {
      detail = await getJSON(this.api);
    } catch (error) {
      this.showBanner(`This case cannot be opened: ${reasonOf(error)}. Reload the page to try again.`, "", true);
      return;
    }
    document.querySelector("[data-testid=position]").textContent =
      `Session ${detail.session} · case ${detail.position} of ${detail.session_total} · ${detail.arm_name}`;
    this.form = new ReportForm(document.getElementById("report-form"), {
      labels: detail.labels, questions: detail.questions, rules: detail.rules,
      onChange: () => this.draftChanged(), onSubmit: () => this.submit(), onCommit: () => this.commitFirstRead(),
    });
    // A sequential read: the AI waits for the first report (the server refuses it until then, too).
    this.sequential = Boolean(detail.sequential);
    this.committed = Boolean(detail.unaided);
    if (this.sequential) this.form.setPhase(this.committed ? "second" : "first");
    if (detail.ai !== "none") {
      document.body.classList.add("has-ai");
      this.ai = this.aiPanel(detail);
      if (this.sequential && !this.committed) this.ai.showMessage("The AI output is shown after you commit your first read.");
    }
    this.form.awaitImage("The report opens when the image is shown.");
    await Promise.all([this.restoreDraft(), this.openViewer(detail)]);
    if (this.statusNode.textContent === "Loading…") this.showStatus(this.outbox.state);
  }

  aiPanel(detail) {
    return new AIPanel(document.getElementById("ai-section"), {
      vocabulary: detail.labels,
      categories: detail.rules.error_categories,
      onAnnotationWrite: (method, id, body) => {
        const url = method === "POST" ? `${this.api}annotations/` : `${this.api}annotations/${id}/`;
        this.outbox.add({ kind: "annotation", assignment: this.page.assignment, method, url, body });
      },
      onAnnotationAdded: (annotation) => {
        this.log.log("annotation_added", { target: annotation.target, category: annotation.category });
      },
      onStepPointed: (step) => this.viewer && this.viewer.outline(step),
    });
  }

  // The draft saved on the server, or the one still queued here. Until it is in the form the form is locked,
  // so that an empty form is never autosaved over what the reader wrote before.
  async restoreDraft() {
    const queued = this.outbox.pending((e) => e.coalesce === `draft:${this.page.assignment}`).pop();
    if (queued) {
      this.form.setValue(queued.body);
      return;
    }
    this.form.lock("Loading your saved draft…");
    for (let attempt = 1; ; attempt += 1) {
      try {
        this.form.setValue(await getJSON(`${this.api}draft/`));
        this.form.unlock();
        return;
      } catch (error) {
        if (!isTransient(error) || attempt === DRAFT_TRIES) {
          this.form.lock("Your saved draft could not be loaded, so the form is locked to keep it safe.");
          this.showBanner(`Your saved draft could not be loaded: ${reasonOf(error)}. Reload the page to try again; what you saved is kept on the server.`, "", true);
          return;
        }
        await sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }

  async openViewer(detail) {
    let rendered = false;
    try {
      this.viewer = await createViewer(document.getElementById("viewer"), {
        images: detail.images,
        onFirstImageRendered: () => {
          if (rendered) return;
          rendered = true;
          this.form.awaitImage(null);
          this.imageShown = true;
          this.log.log("image_rendered");
          if (this.ai && (!this.sequential || this.committed)) this.showAI();
        },
        onInteraction: ({ kind, phase }) => {
          this.log.log(phase === "start" ? "interaction_start" : "interaction_end", { kind });
        },
        onError: (message) => {
          this.showBanner(`${message} Use Try again on the image; if it keeps failing, flag a problem with this case below.`);
          if (!rendered) this.form.awaitImage("The report opens when the image is shown. If the image cannot be loaded, flag a problem with this case below.");
        },
        onRecovered: () => {
          if (!this.banner.dataset.sticky) this.banner.hidden = true;
        },
      });
    } catch (error) {
      this.showBanner(`The image viewer could not start (${error.message || error}). Reload the page; if this happens again, flag a problem with this case below.`, "", true);
      return;
    }
    this.openLateral(detail);
    // The next case's images go into the browser's cache while this one is read.
    if (detail.next) this.viewer.prefetch(detail.next.images.map((image) => image.url));
  }

  // A case with a frontal and a lateral film shows the lateral beside the frontal (the main viewer keeps every
  // image, the arrows too); its gestures are the reading's like the main viewer's.
  async openLateral(detail) {
    const lateral = detail.images.find(isLateral);
    if (!lateral || isLateral(detail.images[0])) return;
    const element = document.getElementById("viewer-lateral");
    element.hidden = false;
    document.querySelector(".ws-viewer").classList.add("two-views");
    try {
      this.lateral = await createViewer(element, {
        images: [lateral], name: "lateral", keys: false, testid: "image-lateral",
        onFirstImageRendered: () => {},
        onInteraction: ({ kind, phase }) => {
          this.log.log(phase === "start" ? "interaction_start" : "interaction_end", { kind, view: "lateral" });
        },
        onError: (message) => this.showBanner(`The lateral view: ${message}`),
      });
    } catch (error) {
      this.showBanner(`The lateral view could not start (${error.message || error}).`);
    }
  }

  // The AI appears only after the first image has rendered, and the server checks that it was logged: until
  // its image_rendered event has arrived it answers 409, and the page asks again.
  async showAI() {
    if (this.loadingAI) return;
    this.loadingAI = true;
    this.ai.showMessage("The AI output appears when the image has loaded.");
    try {
      this.queueEvents();
      await this.outbox.flush();
      let last = null;
      for (let attempt = 0; attempt < AI_TRIES; attempt += 1) {
        try {
          const [content, annotations] = await Promise.all([getJSON(`${this.api}ai/`), getJSON(`${this.api}annotations/`)]);
          this.ai.show(content, annotations);
          this.log.log("ai_panel_shown");
          this.log.watchScroll(this.ai.section);
          return;
        } catch (error) {
          if (!isTransient(error) && !isNotYet(error)) {
            this.ai.showMessage(`The AI output cannot be shown: ${reasonOf(error)}.`, () => this.showAI());
            return;
          }
          last = error;
          await sleep(1000);
          await this.outbox.flush();
        }
      }
      const why = isNotYet(last) ? "the server has not yet recorded that the image appeared" : reasonOf(last);
      this.ai.showMessage(`The AI output has not arrived: ${why}. Check the connection, then try again.`, () => this.showAI());
    } finally {
      this.loadingAI = false;
    }
  }
}

function wireDivider() {
  const split = document.getElementById("split");
  const divider = document.getElementById("divider");
  const saved = Number(localStorage.getItem("readerstudy:split"));
  if (saved) split.style.setProperty("--side-width", `${saved}px`);
  divider.addEventListener("pointerdown", (down) => {
    divider.setPointerCapture(down.pointerId);
    const move = (event) => {
      // The image keeps at least 55% of the width.
      const width = Math.min(Math.max(window.innerWidth - event.clientX, 320), window.innerWidth * 0.45);
      split.style.setProperty("--side-width", `${width}px`);
      localStorage.setItem("readerstudy:split", String(Math.round(width)));
      window.dispatchEvent(new Event("resize"));
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", () => divider.removeEventListener("pointermove", move), { once: true });
  });
}

new Workstation(document.body.dataset).start();
