// The outbox: every write kept in localStorage per user until the server has it, sent in order, retried while
// the network or the server is down or the login expired, dropped (and reported) when the server refuses it.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Outbox } from "../src/outbox.js";

const reply = (status, body = {}) => Promise.resolve(new Response(JSON.stringify(body), { status }));
const networkDown = () => Promise.reject(new TypeError("Failed to fetch"));

function outbox(key = "7") {
  const seen = { states: [], delivered: [], rejected: [] };
  const box = new Outbox(key, {
    onState: (state) => seen.states.push(state),
    onDelivered: (entry, body) => seen.delivered.push([entry.kind, body]),
    onRejected: (entry, error) => seen.rejected.push([entry.kind, error.status, error.message]),
  });
  return { box, seen };
}

const sent = () => fetch.mock.calls.map(([url, init]) => [init.method, url, JSON.parse(init.body || "null")]);
const stored = (key = "7") => JSON.parse(localStorage.getItem(`readerstudy:outbox:${key}`));

beforeEach(() => {
  localStorage.clear();
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  vi.stubGlobal("fetch", vi.fn());
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("Outbox", () => {
  it("sends in order, with the CSRF token, and forgets what the server has", async () => {
    document.cookie = "csrftoken=abc123";
    fetch.mockImplementation(() => reply(200, { stored: 1 }));
    const { box, seen } = outbox();
    box.add({ kind: "events", method: "POST", url: "/e/", body: { events: [1] } });
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: { findings: [] } });
    await box.flush();
    expect(sent()).toEqual([["POST", "/e/", { events: [1] }], ["PUT", "/d/", { findings: [] }]]);
    expect(fetch.mock.calls[0][1].headers["X-CSRFToken"]).toBe("abc123");
    expect(seen.delivered).toEqual([["events", { stored: 1 }], ["draft", { stored: 1 }]]);
    expect(stored()).toEqual([]);
    expect(seen.states.at(-1)).toBe("saved");
  });

  it("keeps a write while the network is down and sends it when it is back, nothing lost or reordered", async () => {
    fetch.mockImplementation(networkDown);
    const { box, seen } = outbox();
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: { n: 1 } });
    await box.flush();
    box.add({ kind: "events", method: "POST", url: "/e/", body: { n: 2 } });
    await box.flush();
    expect(seen.states.at(-1)).toBe("offline");
    expect(stored().map((e) => e.body.n)).toEqual([1, 2]);
    fetch.mockImplementation(() => reply(200));
    await vi.advanceTimersByTimeAsync(1_999); // retries back off: 1 s, then 2 s
    expect(fetch).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent().map(([, url, body]) => [url, body.n])).toEqual([["/d/", 1], ["/d/", 1], ["/d/", 1], ["/e/", 2]]);
    expect([stored(), seen.states.at(-1)]).toEqual([[], "saved"]);
  });

  it("survives a reload: a new page of the same user sends what the last one left", async () => {
    fetch.mockImplementation(networkDown);
    outbox().box.add({ kind: "submit", method: "POST", url: "/s/", body: { submission_uuid: "u" } });
    await vi.advanceTimersByTimeAsync(0);
    fetch.mockImplementation(() => reply(201, { next_url: "/next/" }));
    const { box, seen } = outbox();
    expect(box.pending().map((e) => e.kind)).toEqual(["submit"]);
    await box.flush();
    expect(seen.delivered).toEqual([["submit", { next_url: "/next/" }]]);
    expect(outbox("8").box.pending()).toEqual([]); // another user's queue is another queue
  });

  it("waits for a new login on 401 or a CSRF failure, and retries on 5xx, 408 and 429", async () => {
    for (const [status, detail, state] of [
      [401, "Authentication credentials were not provided.", "login"],
      [403, "CSRF Failed: CSRF token missing.", "login"],
      [503, "down", "offline"],
      [429, "slow down", "offline"],
    ]) {
      localStorage.clear();
      fetch.mockImplementation(() => reply(status, { detail }));
      const { box, seen } = outbox();
      box.add({ kind: "draft", method: "PUT", url: "/d/", body: {} });
      await box.flush();
      expect([status, seen.states.at(-1), box.pending().length, seen.rejected]).toEqual([status, state, 1, []]);
      box.clear();
    }
  });

  it("drops a write the server refuses for good, and says so", async () => {
    fetch.mockImplementationOnce(() => reply(409, { detail: "This read is submitted and final." }))
      .mockImplementation(() => reply(200));
    const { box, seen } = outbox();
    box.add({ kind: "annotation", method: "POST", url: "/a/", body: {} });
    box.add({ kind: "events", method: "POST", url: "/e/", body: {} });
    await box.flush();
    expect(seen.rejected).toEqual([["annotation", 409, "This read is submitted and final."]]);
    expect(sent().map(([, url]) => url)).toEqual(["/a/", "/e/"]);
    expect(box.pending()).toEqual([]);
  });

  it("keeps only the latest draft, but never replaces the one being sent", async () => {
    let answer;
    fetch.mockImplementation(() => new Promise((resolve) => { answer = resolve; }));
    const { box } = outbox();
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: { n: 1 }, coalesce: "draft:x" });
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: { n: 2 }, coalesce: "draft:x" });
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: { n: 3 }, coalesce: "draft:x" });
    expect(box.pending().map((e) => e.body.n)).toEqual([1, 3]);
    answer(new Response("{}", { status: 200 }));
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(2));
    answer(new Response("{}", { status: 200 }));
    await vi.waitFor(() => expect(box.pending()).toEqual([]));
    expect(sent().map(([, , body]) => body.n)).toEqual([1, 3]);
  });

  it("keeps nothing after logout", async () => {
    fetch.mockImplementation(networkDown);
    const { box } = outbox();
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: {} });
    box.clear();
    box.add({ kind: "draft", method: "PUT", url: "/d/", body: {} });
    expect([box.pending(), localStorage.getItem("readerstudy:outbox:7")]).toEqual([[], null]);
  });
});
