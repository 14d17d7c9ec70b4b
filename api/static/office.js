// What the office pages share (the manager's dashboard, the support desk): calls to the API
// with a user's key and their errors, the words for defect kinds, and logging in.
// Plain JavaScript, no build step, nothing from a CDN. Loaded before the page's own script,
// which finds it as window.qcOffice.
"use strict";

window.qcOffice = (() => {
  const API = "/api/v1";

  class ApiError extends Error {
    constructor(status, body) {
      super(body.detail || `the server answered ${status}`);
      this.status = status;
      this.code = body.error || "";
    }
  }

  // One call with `key`. A POST with an Idempotency-Key is retried on a network failure with
  // the same key, so nothing is recorded twice; nothing else is retried.
  async function call(method, path, { key, json, accept = "application/json", idempotency } = {}) {
    const headers = { Authorization: `Bearer ${key}`, Accept: accept };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    if (idempotency) headers["Idempotency-Key"] = idempotency;
    const tries = idempotency ? 3 : 1;
    for (let attempt = 1; ; attempt += 1) {
      let response;
      try {
        response = await fetch(API + path, { method, headers, body, cache: "no-store" });
      } catch (err) {
        if (attempt < tries) {
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
          continue;
        }
        throw new ApiError(0, { detail: "No answer from the server: check the network" });
      }
      if (!response.ok) {
        throw new ApiError(response.status, await response.json().catch(() => ({})));
      }
      return response;
    }
  }

  const DEFECT_WORDS = {
    missing_item: "missing item",
    wrong_item: "wrong item",
    extra_item: "extra item",
    damaged_item: "damaged item",
    short_ship: "short-shipped",
    kit_incomplete: "incomplete kit",
    serial_mismatch: "serial mismatch",
    expired_item: "expired item",
    weight_mismatch: "weight mismatch",
    photo_mismatch: "photo mismatch",
  };

  // Log in with the key typed in `input`: { key, me } when it is a user's whose role is in
  // `roles`; else null, with the reason said (`needs`: what the page needs) and the field
  // ready for another try.
  async function logIn(input, roles, needs, say) {
    const key = input.value.trim();
    if (!key) return null;
    say("Checking the key…");
    let me;
    try {
      me = await (await call("GET", "/me", { key })).json();
    } catch (err) {
      say(err.status === 401 ? "That key is not valid." : `Could not log in: ${err.message}`, "bad");
      input.select();
      return null;
    }
    if (me.kind !== "user" || !roles.has(me.role)) {
      say(`This key belongs to ${me.name} (${me.role || "a station"}): ${needs}.`, "bad");
      input.value = "";
      input.focus();
      return null;
    }
    input.value = "";
    return { key, me };
  }

  return { ApiError, call, logIn, DEFECT_WORDS };
})();
