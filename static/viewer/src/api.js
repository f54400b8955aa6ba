// Requests to the reading API with the session cookie and Django's CSRF token.

// Read on every request: logging in again (after an expired session) rotates the token.
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class HttpError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

// Resolves with the parsed body; rejects with HttpError for an HTTP error, TypeError when the network is down.
export async function request(method, url, body, { keepalive = false } = {}) {
  const response = await fetch(url, {
    method,
    keepalive,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: `The server answered ${response.status}.` };
  }
  if (!response.ok) throw new HttpError(response.status, parsed);
  return parsed;
}

export const getJSON = (url) => request("GET", url);

export function uuid() {
  return crypto.randomUUID();
}
