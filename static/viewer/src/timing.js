// The reading's event log (performance.now(), one page-load id per page) and the page's own totals.
// The server derives the study's times from the stored log (readerstudy/reading/timing.py); deriveTimes
// below is the same rule, kept only as the client's cross-check.

const HEARTBEAT_MS = 2000;
const SCROLL_MS = 2000;

export class EventLog {
  constructor() {
    this.pageLoadId = crypto.randomUUID();
    this.all = [];
    this.unsent = [];
    this.lastInputAt = -Infinity; // the reader's last input
    this.inputLoggedAt = -Infinity; // the time the last logged input event carries
    this.windowStart = -Infinity; // when the last input event was logged: one per HEARTBEAT_MS
    this.trailing = null;
  }

  log(type, payload = {}, at = performance.now()) {
    // An input not yet logged goes first, so that whatever follows (hidden, pause, submit) is measured from it.
    if (type !== "input") this.flushInput();
    const event = { uuid: crypto.randomUUID(), page_load_id: this.pageLoadId, type, client_ms: at, payload };
    this.all.push(event);
    this.unsent.push(event);
    return event;
  }

  // Events not yet handed to the outbox.
  take() {
    const events = this.unsent;
    this.unsent = [];
    return events;
  }

  // Forget every event of `type` (a submit the server refused: the reading goes on).
  discard(type) {
    this.all = this.all.filter((e) => e.type !== type);
    this.unsent = this.unsent.filter((e) => e.type !== type);
  }

  // Signs of a reader at the desk (keys, pointer, wheel, typing), about one event per HEARTBEAT_MS: the first
  // input of a window is logged at once, and the window's last input, if later, at the window's end (or before
  // the next other event) with its own time. So the server knows the time of every burst's last input, and an idle gap is measured from the
  // reader's real last input, not from the heartbeat before it.
  watchInput(target = document) {
    const beat = () => {
      const now = performance.now();
      if (now - this.windowStart >= HEARTBEAT_MS) {
        this.flushInput(); // the last window's last input, if a busy page has not run its timer yet
        this.lastInputAt = now;
        this.logInput(now);
        return;
      }
      this.lastInputAt = now;
      if (this.trailing === null) {
        this.trailing = setTimeout(() => this.flushInput(), this.windowStart + HEARTBEAT_MS - now);
      }
    };
    for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "input"]) {
      target.addEventListener(type, beat, { passive: true, capture: true });
    }
  }

  logInput(at) {
    this.windowStart = performance.now();
    this.inputLoggedAt = at;
    this.log("input", {}, at);
  }

  // The last input of the current window, if it is not logged yet.
  flushInput() {
    clearTimeout(this.trailing);
    this.trailing = null;
    if (this.lastInputAt > this.inputLoggedAt) this.logInput(this.lastInputAt);
  }

  watchVisibility() {
    document.addEventListener("visibilitychange", () => this.log(document.visibilityState === "hidden" ? "hidden" : "visible"));
  }

  watchScroll(element) {
    let last = -Infinity;
    element.addEventListener("scroll", () => {
      const now = performance.now();
      if (now - last >= SCROLL_MS) {
        last = now;
        this.log("ai_panel_scrolled");
      }
    }, { passive: true });
  }
}

const PRESENCE = new Set(["image_rendered", "ai_panel_scrolled", "annotation_added", "interaction_start",
  "interaction_end", "input", "visible", "resume", "unaided_commit", "submit"]);
const AWAY_OPEN = { hidden: "hidden", pause: "paused" };
const AWAY_CLOSE = { visible: "hidden", resume: "paused" };

// One page load's times: from the first rendered image to submit (or the last event).
export function deriveTimes(events, idleThresholdMs) {
  const sorted = [...events].sort((a, b) => a.client_ms - b.client_ms);
  const startIndex = sorted.findIndex((e) => e.type === "image_rendered");
  if (startIndex < 0) return { total_ms: 0, hidden_ms: 0, idle_ms: 0, active_ms: 0 };
  let endIndex = sorted.findIndex((e, i) => e.type === "submit" && i > startIndex);
  if (endIndex < 0) endIndex = sorted.length - 1;
  const away = new Set();
  for (const e of sorted.slice(0, startIndex)) {
    if (e.type === "page_shown" && e.payload && e.payload.visibility === "hidden") away.add("hidden");
    else if (AWAY_OPEN[e.type]) away.add(AWAY_OPEN[e.type]);
    else if (AWAY_CLOSE[e.type]) away.delete(AWAY_CLOSE[e.type]);
  }
  const start = sorted[startIndex].client_ms;
  const end = sorted[endIndex].client_ms;
  const excess = (gap) => Math.max(0, gap - idleThresholdMs);
  let hidden = 0, idle = 0, segmentStart = start, lastPresence = start;
  for (const e of sorted.slice(startIndex + 1, endIndex + 1)) {
    const wasAway = away.size > 0;
    if (AWAY_OPEN[e.type]) away.add(AWAY_OPEN[e.type]);
    else if (AWAY_CLOSE[e.type]) away.delete(AWAY_CLOSE[e.type]);
    const nowAway = away.size > 0;
    if (!wasAway && nowAway) {
      idle += excess(e.client_ms - lastPresence);
      segmentStart = e.client_ms;
    } else if (wasAway && !nowAway) {
      hidden += e.client_ms - segmentStart;
      lastPresence = e.client_ms;
    } else if (!nowAway && PRESENCE.has(e.type)) {
      idle += excess(e.client_ms - lastPresence);
      lastPresence = e.client_ms;
    }
  }
  if (away.size) hidden += end - segmentStart;
  else idle += excess(end - lastPresence);
  const total = Math.round(end - start);
  hidden = Math.round(hidden);
  idle = Math.min(Math.round(idle), total - hidden);
  return { total_ms: total, hidden_ms: hidden, idle_ms: idle, active_ms: total - hidden - idle };
}
