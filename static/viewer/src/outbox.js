// Every write the page makes goes through this queue, kept in localStorage per user (workstations are
// shared), sent in order, and retried until the server has it. The server ignores repeats (client UUIDs),
// so sending twice is safe and losing a write is not possible short of clearing the browser's storage.
import { HttpError, request } from "./api.js";

const RETRY_MS = [1000, 2000, 4000, 8000, 15000];

export class Outbox {
  constructor(userKey, { onState, onDelivered, onRejected }) {
    this.key = `readerstudy:outbox:${userKey}`;
    this.entries = this.load();
    this.onState = onState;
    this.onDelivered = onDelivered;
    this.onRejected = onRejected;
    this.sending = false;
    this.attempt = 0;
    this.timer = null;
    this.state = "saved";
    window.addEventListener("online", () => this.flush());
  }

  load() {
    try {
      return JSON.parse(localStorage.getItem(this.key)) || [];
    } catch {
      return [];
    }
  }

  persist() {
    if (this.closed) return;
    localStorage.setItem(this.key, JSON.stringify(this.entries));
  }

  // `coalesce`: a pending entry with the same key is replaced (only the latest draft matters).
  add(entry) {
    if (this.closed) return;
    if (entry.coalesce) {
      const index = this.entries.findIndex((e, i) => e.coalesce === entry.coalesce && !(this.sending && i === 0));
      if (index >= 0) this.entries.splice(index, 1);
    }
    this.entries.push({ id: crypto.randomUUID(), ...entry });
    this.persist();
    this.flush();
  }

  pending(predicate = () => true) {
    return this.entries.filter(predicate);
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  // Resolves when the queue is empty or stuck; a flush already under way is joined, not duplicated.
  flush() {
    if (!this.running) this.running = this.drain().finally(() => { this.running = null; });
    return this.running;
  }

  async drain() {
    clearTimeout(this.timer);
    this.sending = true;
    try {
      while (this.entries.length) {
        const entry = this.entries[0];
        // Event batches go out every few seconds; only the reader's own work shows as "Saving…".
        if (entry.kind !== "events") this.setState("saving");
        let body;
        try {
          body = await request(entry.method, entry.url, entry.body);
        } catch (error) {
          if (this.stopsQueue(error)) return;
          this.entries.shift();
          this.persist();
          this.onRejected(entry, error);
          continue;
        }
        this.entries.shift();
        this.persist();
        this.attempt = 0;
        this.onDelivered(entry, body);
      }
      this.setState("saved");
    } finally {
      this.sending = false;
    }
  }

  // Network down, server trouble or an expired login keep the entry for later; other errors are final.
  stopsQueue(error) {
    const status = error instanceof HttpError ? error.status : 0;
    const csrf = status === 403 && /CSRF/i.test(error.message);
    if (status === 401 || csrf) {
      this.setState("login", error.message);
      this.scheduleRetry(5000);
      return true;
    }
    if (status === 0 || status >= 500 || status === 408 || status === 429) {
      this.setState("offline", error.message);
      this.scheduleRetry(RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]);
      return true;
    }
    return false;
  }

  scheduleRetry(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), ms);
  }

  // On page hide: hand what is queued to the browser in requests that outlive the page. Entries stay
  // queued; if these arrive, the next page's resend is ignored as a duplicate.
  sendBeforeUnload() {
    for (const entry of this.entries.slice(0, 8)) {
      request(entry.method, entry.url, entry.body, { keepalive: true }).catch(() => {});
    }
  }

  // After logout nothing more is kept: the next person at this workstation may be someone else.
  clear() {
    this.entries = [];
    this.closed = true;
    localStorage.removeItem(this.key);
  }
}
