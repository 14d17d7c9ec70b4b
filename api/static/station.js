// The packer's page: one scan field, the order's lines, a green or red answer per scan.
// Plain JavaScript, no build step. It talks to the JSON API under /api/v1 with the station
// key, which lives in this tab's sessionStorage only (never a cookie, never localStorage).
"use strict";

(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const el = {
    banner: $("banner"), bannerText: $("banner-text"), bannerDetail: $("banner-detail"),
    who: $("who"), orderInfo: $("order-info"), logout: $("logout"),
    login: $("login"), key: $("key"), badge: $("badge"),
    work: $("work"), scanForm: $("scan-form"), scan: $("scan"), scanLabel: $("scan-label"),
    linesBody: $("lines-body"), linesCaption: $("lines-caption"),
    photoFile: $("photo-file"), photoStatus: $("photo-status"), photoThumb: $("photo-thumb"),
    damagedDialog: $("damaged-dialog"), damagedSku: $("damaged-sku"), damagedQty: $("damaged-qty"),
    shortDialog: $("short-dialog"), shortSku: $("short-sku"), shortQty: $("short-qty"),
    shortReason: $("short-reason"),
    cameraDialog: $("camera-dialog"), cameraVideo: $("camera-video"),
  };
  const actions = {
    F2: $("act-damaged"), F3: $("act-short"), F4: $("act-photo"),
    F7: $("act-camera"), F8: $("act-close"), F9: $("act-leave"),
  };
  const session = window.sessionStorage;
  const state = {
    key: session.getItem("qc.key"),
    station: session.getItem("qc.station"),
    badge: session.getItem("qc.badge"),
    parcel: null, // {id, order}
    lines: [],
    lastSku: null,
  };

  // ---- small tools -------------------------------------------------------------------------

  // crypto.randomUUID exists only in secure contexts (https, localhost); a tablet on plain
  // http still needs unique event ids.
  function uuid() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  class ApiError extends Error {
    constructor(status, body) {
      super(body.detail || `the server answered ${status}`);
      this.status = status;
      this.code = body.error || "";
      this.body = body;
    }
  }

  const RETRYABLE = new Set([502, 503, 504]);

  // One API call. Network failures and 502/503/504 are retried with the very same request
  // (the same event id, the same Idempotency-Key), so a retry never counts anything twice.
  async function call(method, path, { json, form, retries = 4, idempotent = false, key } = {}) {
    const headers = { Authorization: `Bearer ${key || state.key}`, Accept: "application/json" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    if (idempotent) headers["Idempotency-Key"] = uuid();
    for (let attempt = 0; ; attempt += 1) {
      let response = null;
      try {
        response = await fetch(API + path, { method, headers, body, cache: "no-store" });
      } catch (err) {
        response = null;
      }
      if (response && !RETRYABLE.has(response.status)) {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new ApiError(response.status, data);
        return { status: response.status, data };
      }
      if (attempt >= retries) {
        throw new ApiError(0, {
          error: "offline",
          detail: "No answer from the server: check the network, then try again",
        });
      }
      const wait = Number(response && response.headers.get("Retry-After")) * 1000;
      show("info", "No connection — retrying…", "Keep the item in hand until the answer shows");
      await sleep(wait || Math.min(500 * 2 ** attempt, 5000));
    }
  }

  // Everything that changes the parcel runs in order, one at a time: a scanner can fire
  // faster than the server answers, and a close must come after the scans before it.
  let queue = Promise.resolve();
  function enqueue(task) {
    queue = queue.then(task).catch(fail);
    return queue;
  }

  // ---- answer and sound ------------------------------------------------------------------

  function show(kind, text, detail = "") {
    el.banner.className = `banner ${kind}`;
    el.bannerText.textContent = text;
    el.bannerDetail.textContent = detail;
    el.banner.dataset.seq = String(Number(el.banner.dataset.seq) + 1);
  }

  let audio = null;
  function unlockAudio() {
    // Browsers let a page make sound only after a key press or a click.
    try {
      audio = audio || new window.AudioContext();
      if (audio.state === "suspended") audio.resume();
    } catch (err) {
      audio = null;
    }
  }

  function tone(freq, start, seconds, type) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = type;
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.4, start + 0.01);
    gain.gain.setValueAtTime(0.4, start + seconds - 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + seconds + 0.02);
  }

  // accepted: one short high beep; refused: two low buzzes; anything else: one middle tone.
  function sound(kind) {
    el.banner.dataset.sound = kind;
    if (!audio) return;
    try {
      const t = audio.currentTime + 0.01;
      if (kind === "ok") {
        tone(1400, t, 0.12, "sine");
      } else if (kind === "bad") {
        tone(150, t, 0.25, "square");
        tone(150, t + 0.35, 0.25, "square");
      } else {
        tone(700, t, 0.15, "triangle");
      }
    } catch (err) {
      // no audio device: the banner still says it
    }
  }

  function answer(kind, text, detail = "") {
    show(kind, text, detail);
    sound(kind);
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
    weight_mismatch: "weight does not match",
    photo_mismatch: "photo shows an item not in the order",
  };

  function describeDefect(d) {
    const words = DEFECT_WORDS[d.kind] || d.kind.replace(/_/g, " ");
    return d.sku ? `${words} ${d.sku} ×${d.qty}` : words;
  }

  // The parcel is no longer this station's to pack (closed elsewhere, voided, unknown).
  const PARCEL_GONE = new Set([
    "parcel_passed", "parcel_held", "parcel_voided", "parcel_shipped", "parcel_not_found",
    "not_your_parcel",
  ]);

  function fail(err) {
    if (!(err instanceof ApiError)) {
      answer("bad", "Something went wrong on this page", String(err));
      focusScan();
      return;
    }
    if (err.status === 401) {
      logout();
      answer("bad", "The station key was refused", `${err.message}. Log in again.`);
      return;
    }
    answer("bad", err.message);
    if (PARCEL_GONE.has(err.code)) setParcel(null);
    focusScan();
  }

  // ---- rendering -------------------------------------------------------------------------

  function todo(line) {
    return Math.max(line.expected - line.scanned - line.short, 0);
  }

  function renderLines() {
    const rows = state.lines.map((line) => {
      const tr = document.createElement("tr");
      tr.dataset.sku = line.sku;
      tr.className = line.damaged ? "damaged" : line.status;
      if (line.sku === state.lastSku) tr.classList.add("last");
      const done = Math.min(line.scanned + line.short, line.expected);
      const pct = line.expected ? Math.round((100 * done) / line.expected) : 100;
      const left = todo(line);
      const notes = [];
      if (line.damaged) notes.push(`replace ${line.damaged} damaged`);
      if (line.short) notes.push(`${line.short} short`);
      if (!notes.length) notes.push(left ? `${left} to scan` : "✓ done");
      const cells = [
        [line.sku, "sku"],
        [line.name, "name"],
        [`${line.scanned} of ${line.expected}`, "count"],
        [notes.join(", "), "todo"],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement("td");
        td.className = cls;
        td.textContent = text;
        td.title = text;
        tr.append(td);
      }
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.setAttribute("aria-hidden", "true");
      const fill = document.createElement("span");
      fill.style.width = `${pct}%`;
      bar.append(fill);
      tr.children[2].append(bar);
      return tr;
    });
    el.linesBody.replaceChildren(...rows);
    const left = state.lines.reduce((sum, line) => sum + todo(line), 0);
    if (state.parcel) {
      el.orderInfo.textContent = `Order ${state.parcel.order} · ${left ? `${left} to scan` : "all scanned"}`;
      el.linesCaption.textContent = `Order ${state.parcel.order}: ${left} units still to scan`;
    }
  }

  function setParcel(parcel) {
    state.parcel = parcel ? { id: parcel.id, order: parcel.order } : null;
    if (parcel) {
      session.setItem("qc.parcel", String(parcel.id));
      state.lines = parcel.lines;
      renderLines();
    } else {
      session.removeItem("qc.parcel");
      el.orderInfo.textContent = "";
      state.lastSku = null;
    }
    const open = Boolean(state.parcel);
    el.scanLabel.textContent = open ? "Scan an item" : "Scan the packing slip";
    for (const button of Object.values(actions)) button.disabled = !open;
    if (!cameraAvailable()) actions.F7.disabled = true;
    if (!open) setPhoto(null);
  }

  function setPhoto(blob) {
    if (el.photoThumb.src) URL.revokeObjectURL(el.photoThumb.src);
    if (blob) {
      el.photoThumb.src = URL.createObjectURL(blob);
      el.photoThumb.hidden = false;
      el.photoStatus.textContent = "Photo: ✓ taken";
    } else {
      el.photoThumb.removeAttribute("src");
      el.photoThumb.hidden = true;
      el.photoStatus.textContent = "Photo: none yet";
    }
  }

  function focusScan() {
    if (!el.work.hidden && !document.querySelector("dialog[open]")) el.scan.focus();
  }

  function showWork() {
    el.login.hidden = true;
    el.work.hidden = false;
    el.logout.hidden = false;
    el.who.textContent = `${state.station} · packer ${state.badge}`;
    focusScan();
  }

  // ---- log in and out --------------------------------------------------------------------

  async function login(event) {
    event.preventDefault();
    unlockAudio();
    const key = el.key.value.trim();
    const badge = el.badge.value.trim();
    if (!key) {
      answer("bad", "Type or scan the station key");
      el.key.focus();
      return;
    }
    if (!badge) {
      show("idle", "Now scan your packer badge");
      el.badge.focus();
      return;
    }
    let me;
    try {
      ({ data: me } = await call("GET", "/me", { key, retries: 2 }));
    } catch (err) {
      const refused = err.status === 401;
      answer("bad", refused ? "That key is not valid" : err.message,
        refused ? "It is unknown or revoked: ask a supervisor for the bench's station key" : "");
      el.key.select();
      el.key.focus();
      return;
    }
    if (me.kind !== "station") {
      answer("bad", "That is not a station key",
        `It belongs to ${me.name} (${me.role || me.kind}): log in with the bench's station key`);
      el.key.select();
      el.key.focus();
      return;
    }
    state.key = key;
    state.station = me.name;
    state.badge = badge;
    session.setItem("qc.key", key);
    session.setItem("qc.station", me.name);
    session.setItem("qc.badge", badge);
    el.key.value = "";
    el.badge.value = "";
    setParcel(null);
    showWork();
    answer("idle", "Scan the packing slip", `Logged in at ${me.name} as packer ${badge}`);
  }

  function logout() {
    for (const name of ["qc.key", "qc.station", "qc.badge", "qc.parcel"]) session.removeItem(name);
    state.key = state.station = state.badge = null;
    setParcel(null);
    state.lines = [];
    renderLines();
    el.work.hidden = true;
    el.logout.hidden = true;
    el.login.hidden = false;
    el.who.textContent = "";
    show("idle", "Log in with the station key and your badge");
    el.key.focus();
  }

  // ---- scanning --------------------------------------------------------------------------

  async function openParcel(code) {
    const { status, data } = await call("POST", "/parcels", {
      json: { order: code, packer: state.badge },
      idempotent: true,
    });
    state.lastSku = null;
    setParcel(data);
    const verb = status === 201 ? "opened" : "resumed";
    answer("ok", `Order ${data.order}: scan the items`, `Parcel ${data.id} ${verb}`);
  }

  async function scanItem(code) {
    if (code === state.parcel.order) {
      answer("info", `That is order ${code}'s slip: scan the items`);
      return;
    }
    const { data } = await call("POST", `/parcels/${state.parcel.id}/scans`, {
      json: { code, source: "scanner", event_id: uuid() },
      retries: Infinity, // never drop a scan: wait for the network to come back
    });
    if (data.ok && data.sku) state.lastSku = data.sku;
    state.lines = data.lines;
    renderLines();
    const kind = data.result === "accepted" ? "ok" : data.ok ? "info" : "bad";
    answer(kind, data.message, data.ok ? "" : "Nothing was counted");
  }

  function onScan(event) {
    event.preventDefault();
    unlockAudio();
    const code = el.scan.value.trim();
    el.scan.value = "";
    if (!code) return;
    enqueue(() => (state.parcel ? scanItem(code) : openParcel(code)));
  }

  // ---- parcel actions --------------------------------------------------------------------

  function fillSkus(select, lines, chosen) {
    select.replaceChildren(
      ...lines.map((line) => {
        const option = new Option(`${line.sku} — ${line.name}`, line.sku);
        option.selected = line.sku === chosen;
        return option;
      }),
    );
  }

  function openDialog(dialog, first) {
    dialog.returnValue = "";
    dialog.showModal();
    first.focus();
  }

  function askDamaged() {
    const scanned = state.lines.filter((line) => line.scanned > 0);
    if (!scanned.length) {
      answer("info", "Nothing scanned yet to flag as damaged");
      return;
    }
    const chosen = scanned.some((l) => l.sku === state.lastSku) ? state.lastSku : scanned[0].sku;
    fillSkus(el.damagedSku, scanned, chosen);
    el.damagedQty.value = "1";
    openDialog(el.damagedDialog, el.damagedSku);
  }

  async function flagDamaged(sku, qty) {
    const { data } = await call("POST", `/parcels/${state.parcel.id}/damaged`, {
      json: { sku, qty }, idempotent: true,
    });
    state.lines = data.lines;
    renderLines();
    answer("info", `${sku} ×${qty} flagged damaged`, "Take it out and scan a replacement");
  }

  function askShort() {
    const open = state.lines.filter((line) => todo(line) > 0);
    if (!open.length) {
      answer("info", "Nothing is missing: every item is scanned");
      return;
    }
    fillSkus(el.shortSku, open, open[0].sku);
    el.shortQty.value = String(todo(open[0]));
    openDialog(el.shortDialog, el.shortSku);
  }

  async function declareShort(sku, qty, reason) {
    const { data } = await call("POST", `/parcels/${state.parcel.id}/short`, {
      json: { sku, qty, reason }, idempotent: true,
    });
    state.lines = data.lines;
    renderLines();
    answer("info", `${sku} ×${qty} will ship short`, `Reason: ${reason}`);
  }

  async function uploadPhoto(blob, name) {
    if (!state.parcel) return;
    const form = new FormData();
    form.append("file", blob, name);
    show("idle", "Checking the photo…");
    let data;
    try {
      ({ data } = await call("POST", `/parcels/${state.parcel.id}/photos`, { form }));
    } catch (err) {
      if (err.code === "photo_quality") {
        const reasons = (err.body.quality && err.body.quality.reasons) || [];
        answer("bad", "Photo not usable: take it again", reasons.join("; ") || err.message);
        return;
      }
      throw err;
    }
    setPhoto(blob);
    if (data.warnings && data.warnings.length) {
      const words = data.warnings.map((w) => w.replace(/^photo_mismatch: /, ""));
      answer("bad", "The photo shows an item not in this order", `${words.join("; ")}: take it out and photograph again`);
    } else {
      const seen = [...new Set(data.codes.map((c) => c.sku).filter(Boolean))];
      answer("ok", "Photo saved", seen.length ? `Seen in it: ${seen.join(", ")}` : "");
    }
  }

  function choosePhoto() {
    // Opens the file chooser, or the camera app on a tablet (capture="environment").
    el.photoFile.value = "";
    el.photoFile.click();
  }

  function cameraAvailable() {
    // Browsers offer the camera only to secure pages (https, or localhost).
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  let stream = null;
  async function openCamera() {
    if (!cameraAvailable()) {
      answer("info", "No camera here", "Use F4 to choose or take a photo instead");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false,
      });
    } catch (err) {
      answer("bad", "The camera cannot be used", `${err.message || err.name}: use F4 instead`);
      focusScan();
      return;
    }
    el.cameraVideo.srcObject = stream;
    openDialog(el.cameraDialog, el.cameraDialog.querySelector("button[value=ok]"));
  }

  function stopCamera() {
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    el.cameraVideo.srcObject = null;
  }

  function snapshot() {
    const video = el.cameraVideo;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  }

  async function closeParcel() {
    if (!state.parcel) return;
    const order = state.parcel.order;
    let data;
    try {
      ({ data } = await call("POST", `/parcels/${state.parcel.id}/close`, { idempotent: true }));
    } catch (err) {
      if (err.code === "photo_required") {
        answer("bad", "Take a photo before closing", "Press F4 (or F7 for the camera), then F8");
        return;
      }
      throw err;
    }
    setParcel(null);
    if (data.status === "passed") {
      answer("ok", `Passed: order ${order} is closed`, "Scan the next packing slip");
    } else {
      const why = data.defects.map(describeDefect).join("; ");
      answer("bad", `Held: ${why}`, `Order ${order}: put the parcel aside for a supervisor, then scan the next slip`);
    }
    el.orderInfo.textContent = `Last: order ${order} ${data.status}`;
  }

  function leaveParcel() {
    if (!state.parcel) return;
    const order = state.parcel.order;
    setParcel(null);
    state.lines = [];
    renderLines();
    answer("idle", "Scan the packing slip", `Order ${order} stays open: scan its slip to go on`);
  }

  // ---- wiring ----------------------------------------------------------------------------

  const run = (task) => () => enqueue(task).then(focusScan);

  actions.F2.addEventListener("click", askDamaged);
  actions.F3.addEventListener("click", askShort);
  actions.F4.addEventListener("click", choosePhoto);
  actions.F7.addEventListener("click", openCamera);
  actions.F8.addEventListener("click", run(closeParcel));
  actions.F9.addEventListener("click", () => enqueue(leaveParcel).then(focusScan));
  el.logout.addEventListener("click", logout);
  el.login.addEventListener("submit", login);
  el.scanForm.addEventListener("submit", onScan);

  el.photoFile.addEventListener("change", () => {
    const file = el.photoFile.files[0];
    if (file) enqueue(() => uploadPhoto(file, file.name)).then(focusScan);
    else focusScan();
  });
  el.photoFile.addEventListener("cancel", focusScan);

  el.damagedDialog.addEventListener("close", () => {
    if (el.damagedDialog.returnValue === "ok") {
      const sku = el.damagedSku.value;
      const qty = Number(el.damagedQty.value) || 1;
      enqueue(() => flagDamaged(sku, qty)).then(focusScan);
    }
    focusScan();
  });
  el.shortDialog.addEventListener("close", () => {
    if (el.shortDialog.returnValue === "ok") {
      const [sku, qty, reason] = [el.shortSku.value, Number(el.shortQty.value) || 1,
        el.shortReason.value.trim()];
      enqueue(() => declareShort(sku, qty, reason)).then(focusScan);
    }
    focusScan();
  });
  el.cameraDialog.addEventListener("close", async () => {
    const take = el.cameraDialog.returnValue === "ok" && stream;
    const blob = take ? await snapshot() : null;
    stopCamera();
    if (blob) enqueue(() => uploadPhoto(blob, "camera.jpg")).then(focusScan);
    focusScan();
  });
  // Enter on a drop-down confirms the dialog, as it does in the text fields.
  for (const dialog of [el.damagedDialog, el.shortDialog]) {
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.tagName === "SELECT") {
        event.preventDefault();
        dialog.querySelector("form").requestSubmit(dialog.querySelector("button[value=ok]"));
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    unlockAudio();
    if (el.work.hidden || document.querySelector("dialog[open]")) return;
    const button = actions[event.key];
    if (button && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      if (button.disabled) {
        if (!state.parcel) answer("info", "Scan a packing slip first");
      } else {
        button.click();
      }
      return;
    }
    // A scanner types wherever the focus is: typing on a button would press it with the
    // scanner's Enter. Send the characters to the scan field instead.
    const tag = event.target.tagName;
    const typing = event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (typing && tag !== "INPUT" && tag !== "SELECT" && tag !== "TEXTAREA") el.scan.focus();
  });
  // A click on an empty part of the page must not leave the scan field without focus.
  document.addEventListener("click", (event) => {
    if (event.target === document.body || event.target.closest(".packing, .banner, .top")) {
      if (!event.target.closest("input, button, select")) focusScan();
    }
  });

  // ---- start -----------------------------------------------------------------------------

  async function resume() {
    const id = session.getItem("qc.parcel");
    if (!id) return;
    try {
      const { data } = await call("GET", `/parcels/${id}`, { retries: 2 });
      if (data.status === "packing") {
        setParcel(data);
        show("idle", `Order ${data.order}: scan the items`, `Parcel ${data.id} resumed`);
      } else {
        setParcel(null);
      }
    } catch (err) {
      setParcel(null);
      if (err.status === 401) fail(err);
    }
  }

  if (state.key && state.badge) {
    setParcel(null);
    showWork();
    show("idle", "Scan the packing slip", `${state.station} · packer ${state.badge}`);
    enqueue(resume).then(focusScan);
  } else {
    el.key.focus();
  }
})();
