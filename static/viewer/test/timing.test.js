// The page's event log and its own reading times, the cross-check of the server's (readerstudy/reading/timing.py,
// whose tests hold the same cases and numbers).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { EventLog, deriveTimes } from "../src/timing.js";

const IDLE_MS = 60_000;
const log = (...events) => events.map(([type, client_ms, payload = {}]) => ({ type, client_ms, payload }));
const times = (events, threshold = IDLE_MS) => deriveTimes(events, threshold);

describe("deriveTimes", () => {
  it("runs the clock from the first rendered image to submit", () => {
    const events = log(["page_shown", 0], ["image_rendered", 1_500], ["input", 20_000], ["submit", 41_500]);
    expect(times(events)).toEqual({ total_ms: 40_000, hidden_ms: 0, idle_ms: 0, active_ms: 40_000 });
  });

  it("leaves out a hidden tab", () => {
    const events = log(["image_rendered", 0], ["input", 10_000], ["hidden", 12_000], ["visible", 17_000],
      ["input", 18_000], ["submit", 30_000]);
    expect(times(events)).toEqual({ total_ms: 30_000, hidden_ms: 5_000, idle_ms: 0, active_ms: 25_000 });
  });

  it("counts a pause overlapping a hidden tab once", () => {
    const events = log(["image_rendered", 0], ["pause", 10_000], ["hidden", 15_000], ["visible", 40_000],
      ["resume", 45_000], ["hidden", 50_000], ["pause", 52_000], ["resume", 55_000], ["visible", 58_000],
      ["submit", 60_000]);
    expect(times(events)).toEqual({ total_ms: 60_000, hidden_ms: 43_000, idle_ms: 0, active_ms: 17_000 });
  });

  it("counts as idle only the part of an input-free gap beyond the threshold", () => {
    const events = log(["image_rendered", 0], ["input", 5_000], ["input", 95_000], ["interaction_start", 100_000],
      ["interaction_end", 101_000], ["submit", 170_000]);
    expect(times(events)).toEqual({ total_ms: 170_000, hidden_ms: 0, idle_ms: 39_000, active_ms: 131_000 });
  });

  it("counts an idle gap that ends in hiding the tab up to the hiding, and none inside hidden time", () => {
    expect(times(log(["image_rendered", 0], ["hidden", 100_000], ["visible", 130_000], ["submit", 140_000])))
      .toEqual({ total_ms: 140_000, hidden_ms: 30_000, idle_ms: 40_000, active_ms: 70_000 });
    expect(times(log(["image_rendered", 0], ["input", 1_000], ["hidden", 50_000], ["visible", 250_000],
      ["input", 260_000], ["submit", 270_000])))
      .toEqual({ total_ms: 270_000, hidden_ms: 200_000, idle_ms: 0, active_ms: 70_000 });
  });

  it("gives the same times whatever order the events arrive in", () => {
    const events = log(["image_rendered", 0], ["input", 10_000], ["hidden", 12_000], ["visible", 17_000],
      ["input", 100_000], ["submit", 101_000]);
    const expected = { total_ms: 101_000, hidden_ms: 5_000, idle_ms: 23_000, active_ms: 73_000 };
    expect(times(events)).toEqual(expected);
    expect(times([...events].reverse())).toEqual(expected);
  });

  it("has no reading time before an image renders, and none after submit", () => {
    expect(times(log(["page_shown", 0], ["input", 5_000], ["submit", 9_000])))
      .toEqual({ total_ms: 0, hidden_ms: 0, idle_ms: 0, active_ms: 0 });
    expect(times(log(["image_rendered", 0], ["submit", 10_000], ["hidden", 11_000], ["input", 30_000])))
      .toEqual({ total_ms: 10_000, hidden_ms: 0, idle_ms: 0, active_ms: 10_000 });
  });

  it("starts hidden when the page opened in a background tab", () => {
    const events = log(["page_shown", 0, { visibility: "hidden" }], ["image_rendered", 500], ["visible", 8_500],
      ["submit", 18_500]);
    expect(times(events)).toEqual({ total_ms: 18_000, hidden_ms: 8_000, idle_ms: 0, active_ms: 10_000 });
  });

  it("rounds half milliseconds up, as the server does", () => {
    expect(times(log(["image_rendered", 0], ["submit", 354.5])).active_ms).toBe(355);
  });
});

describe("EventLog", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] }));
  afterEach(() => vi.useRealTimers());

  const typeAt = (events) => events.map((e) => [e.type, Math.round(e.client_ms)]);

  it("gives every event its own id and the page load's id, and hands each out once", () => {
    const events = new EventLog();
    events.log("page_shown", { visibility: "visible" });
    events.log("image_rendered");
    const taken = events.take();
    expect(taken.map((e) => e.type)).toEqual(["page_shown", "image_rendered"]);
    expect(new Set(taken.map((e) => e.uuid)).size).toBe(2);
    expect(taken.every((e) => e.page_load_id === events.pageLoadId)).toBe(true);
    expect(events.take()).toEqual([]);
    expect(events.all).toHaveLength(2);
  });

  it("logs the first input of a 2 s window at once and the window's last input at its end, with its own time", () => {
    const target = new EventTarget();
    const events = new EventLog();
    events.watchInput(target);
    const start = performance.now();
    target.dispatchEvent(new Event("keydown"));
    vi.advanceTimersByTime(500);
    target.dispatchEvent(new Event("keydown"));
    vi.advanceTimersByTime(700);
    target.dispatchEvent(new Event("pointermove"));
    expect(typeAt(events.all)).toEqual([["input", start]]);
    vi.advanceTimersByTime(800); // the window's end
    expect(typeAt(events.all)).toEqual([["input", start], ["input", start + 1_200]]);
    vi.advanceTimersByTime(10_000);
    expect(events.all).toHaveLength(2); // no input, no event
  });

  it("logs a pending input before any other event, so an idle gap is measured from the real last input", () => {
    const target = new EventTarget();
    const events = new EventLog();
    events.watchInput(target);
    const start = performance.now();
    target.dispatchEvent(new Event("wheel"));
    vi.advanceTimersByTime(300);
    target.dispatchEvent(new Event("wheel"));
    vi.advanceTimersByTime(200);
    events.log("hidden");
    expect(typeAt(events.all)).toEqual([["input", start], ["input", start + 300], ["hidden", start + 500]]);
  });

  it("forgets a refused submit, sent or not", () => {
    const events = new EventLog();
    events.log("image_rendered");
    events.log("submit");
    events.discard("submit");
    expect(events.all.map((e) => e.type)).toEqual(["image_rendered"]);
    expect(events.take().map((e) => e.type)).toEqual(["image_rendered"]);
  });
});
