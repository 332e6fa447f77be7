// Private recommendations: score a watch history in this browser with ONNX Runtime Web.
//
// The history (the picks) lives in localStorage and never leaves the browser. The server sends
// the model (ONNX bytes + JSON sidecar) as component arguments; the only message this page
// sends back is {ready: <version held or null>}, which tells the server whether to send a model.
//
// Streamlit's component protocol (v1), spoken directly: the parent window posts
// {type: "streamlit:render", args}; we post componentReady, setFrameHeight and setComponentValue.

const PICKS_LIMIT = 200; // more picks than anyone types; bounds the work per inference
const SUGGESTIONS = 8;
const TOP = 10; // the "top 10" the page promises (export.TOP_K); a catalog of fewer movies gives fewer

const $ = (id) => document.getElementById(id);

// The page's font: the app's own @font-face rules live in the parent page (same origin), not in
// this frame, so without them the box falls back to another font. Copy them, with their font files'
// addresses made absolute (they are relative to the app's stylesheet), and nothing leaves the server.
function adoptAppFonts() {
  const faces = [];
  try {
    for (const sheet of window.parent.document.styleSheets) {
      let rules;
      try { rules = sheet.cssRules; } catch { continue; } // a stylesheet of another origin: not readable
      for (const rule of rules) {
        if (rule instanceof window.parent.CSSFontFaceRule && /Source Sans/i.test(rule.style.getPropertyValue("font-family"))) {
          faces.push(rule.cssText.replace(/url\((['"]?)([^'")]+)\1\)/g, (_, q, url) => `url("${new URL(url, sheet.href || window.parent.location.href).href}")`));
        }
      }
    }
  } catch { return; } // not embedded in the app: keep the fallback fonts
  if (faces.length) {
    const style = document.createElement("style");
    style.textContent = faces.join("\n");
    document.head.appendChild(style);
  }
}
adoptAppFonts();
const state = {
  runtime: null, // Promise<ort module>
  runtimeError: null,
  runtimeLabel: "",
  dataset: null,
  active: null, // {dataset, version, sidecar, session, positionOf}
  picks: [], // item ids
  pickTitles: {}, // item id -> title, for the picks (see titlesKey)
  top: [], // [{id, title, score}] from the active model
  lastMs: null,
  pendingVersion: null, // a version the server named that we do not run yet
  pendingSince: 0, // performance.now() when it was first named
  change: null, // {from, to, before, after, notes, seconds}
  sent: undefined, // the last "ready" value sent
  queue: Promise.resolve(),
};
window.amnesiaDevice = { timings: [], switches: [], marks: [], state }; // read by the benchmark and tests
const mark = (label) => window.amnesiaDevice.marks.push([label, Math.round(performance.now())]);

// ------------------------------------------------------------------ Streamlit protocol
function post(type, data = {}) {
  window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
}
function signal(version) {
  if (state.sent === version) return;
  mark(`signal ${version}`);
  state.sent = version;
  post("streamlit:setComponentValue", { value: { ready: version }, dataType: "json" });
}
// the content's own height: the document's scrollHeight never shrinks below the frame's height
new ResizeObserver(() => post("streamlit:setFrameHeight", { height: Math.ceil($("app").getBoundingClientRect().bottom) + 8 }))
  .observe($("app"));
window.addEventListener("message", (event) => {
  if (event.source !== window.parent || !event.data || event.data.type !== "streamlit:render") return;
  const args = event.data.args;
  state.queue = state.queue.then(() => onRender(args)).catch((error) => showModelError(error));
});
post("streamlit:componentReady", { apiVersion: 1 });

// ------------------------------------------------------------------ the runtime
async function fetchVerified(url, hash) {
  // `integrity` makes the browser refuse a file whose sha384 differs from the pinned one
  const response = await fetch(url, { integrity: hash, credentials: "omit", cache: "force-cache" });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response;
}

function loadRuntime(config) {
  if (state.runtime) return state.runtime;
  const where = config.source === "local" ? "the local copy" : "the public CDN (jsDelivr)";
  state.runtimeLabel = `ONNX Runtime Web ${config.version} from ${where}`;
  const base = new URL(config.base, window.location.href);
  state.runtime = (async () => {
    const names = Object.keys(config.files);
    const js = names.find((name) => name.endsWith(".mjs"));
    const wasm = names.find((name) => name.endsWith(".wasm"));
    const code = await (await fetchVerified(new URL(js, base), config.files[js])).text();
    const moduleUrl = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    const ort = await import(moduleUrl);
    ort.env.wasm.wasmBinary = await (await fetchVerified(new URL(wasm, base), config.files[wasm])).arrayBuffer();
    ort.env.wasm.numThreads = 1; // a component iframe is not cross-origin isolated: no threads
    ort.env.wasm.proxy = false;
    // a one-node model starts the WebAssembly runtime (about a second to compile) while the
    // visitor's model is still on its way
    const warmup = Uint8Array.from(atob(config.warmup), (c) => c.charCodeAt(0));
    await (await ort.InferenceSession.create(warmup, { executionProviders: ["wasm"] })).release();
    return ort;
  })();
  state.runtime.then(
    () => setStatus("runtime-status", `${state.runtimeLabel}: ready.`, "ready"),
    (error) => {
      state.runtimeError = error;
      const fix = config.source === "local"
        ? `Run <code>${config.fetch_command}</code> on the server, then reload this page.`
        : `This device may be offline or block the CDN. The server can serve a local copy instead: run <code>${config.fetch_command}</code> there and reload.`;
      // a file that fails its integrity check is reported by the browser as a failed fetch, too
      setStatus("runtime-status",
        `Cannot load ${escapeHtml(state.runtimeLabel)}, so recommendations cannot be computed on this device: ` +
        `a runtime file could not be fetched or did not match its pinned hash ` +
        `(${escapeHtml(String(error.message || error))}). ${fix}`, "error", true);
      renderAll();
    },
  );
  return state.runtime;
}

// ------------------------------------------------------------------ storage (this browser only)
const picksKey = (dataset) => `amnesia.private.picks.${dataset}`;
// the picks' titles as a model named them: a pick whose movie later left the model (its last viewer
// forgotten) read "#386" where the page had shown "S.F.W. (1994)" a moment before
const titlesKey = (dataset) => `amnesia.private.titles.${dataset}`;
function loadPicks(dataset) {
  try {
    const value = JSON.parse(localStorage.getItem(picksKey(dataset)) || "[]");
    return Array.isArray(value) ? value.filter(Number.isInteger).slice(0, PICKS_LIMIT) : [];
  } catch {
    return [];
  }
}
function loadTitles(dataset) {
  try {
    const value = JSON.parse(localStorage.getItem(titlesKey(dataset)) || "{}");
    return value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).filter(([, title]) => typeof title === "string")) : {};
  } catch {
    return {};
  }
}
// a pick's title: the active model's, else the one saved when a model still had it, else its id
function pickTitle(item) {
  const position = state.active ? state.active.positionOf.get(item) : undefined;
  return position !== undefined ? state.active.sidecar.titles[position] : state.pickTitles[item] ?? `#${item}`;
}
function savePicks() {
  // only the picks' own titles are kept, and they go with the picks
  state.pickTitles = Object.fromEntries(state.picks.map((item) => [item, pickTitle(item)])
    .filter(([item, title]) => title !== `#${item}`));
  try {
    if (state.picks.length) {
      localStorage.setItem(picksKey(state.dataset), JSON.stringify(state.picks));
      localStorage.setItem(titlesKey(state.dataset), JSON.stringify(state.pickTitles));
    } else {
      localStorage.removeItem(picksKey(state.dataset));
      localStorage.removeItem(titlesKey(state.dataset));
    }
  } catch {
    // storage full or turned off: the picks hold for this visit, and a model still loads and scores them
  }
}

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("amnesia-device", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("models");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
async function cached(dataset) {
  try {
    const db = await database();
    return await new Promise((resolve) => {
      const request = db.transaction("models").objectStore("models").get(dataset);
      request.onsuccess = () => resolve(request.result || null);
      request.onerror = () => resolve(null);
    });
  } catch {
    return null; // no IndexedDB (private window): the server simply sends the model again
  }
}
async function keep(dataset, entry) {
  // one model per data set: the new version replaces the old, so a forgotten user's
  // contribution does not linger on this device either
  try {
    const db = await database();
    await new Promise((resolve) => {
      const transaction = db.transaction("models", "readwrite");
      transaction.objectStore("models").put(entry, dataset);
      transaction.oncomplete = transaction.onerror = () => resolve();
    });
  } catch {
    /* not cached: fine */
  }
}

// ------------------------------------------------------------------ models
async function onRender(args) {
  mark(`render ${args.version}${args.model ? " with model" : ""}`);
  loadRuntime(args.runtime);
  if (state.dataset !== args.dataset) {
    state.dataset = args.dataset;
    state.picks = loadPicks(args.dataset);
    state.pickTitles = loadTitles(args.dataset);
    state.change = null;
    if (state.active && state.active.dataset !== args.dataset) state.active = null;
  }
  if (state.active && state.active.version === args.version) {
    signal(args.version);
    return renderAll();
  }
  if (state.pendingVersion !== args.version) {
    state.pendingVersion = args.version;
    state.pendingSince = performance.now();
  }
  if (args.model && args.sidecar) {
    await activate(args.dataset, args.model, args.sidecar, args.changes || [], true);
    return;
  }
  const stored = await cached(args.dataset);
  mark("cache read");
  if (stored && stored.version === args.version) {
    await activate(args.dataset, stored.model, stored.sidecar, [], false);
    return;
  }
  // Say which version this device holds right away: the new model travels while the runtime starts.
  signal(state.active ? state.active.version : stored ? stored.version : null);
  renderAll();
  if (stored && !state.active) {
    // the model this device used last: it scores the picks once more, for the before/after lists
    await activate(args.dataset, stored.model, stored.sidecar, [], false);
  }
}

async function activate(dataset, modelBytes, sidecarBytes, notes, fromServer) {
  const sidecar = JSON.parse(new TextDecoder().decode(sidecarBytes));
  let ort;
  try {
    ort = await state.runtime;
  } catch {
    return renderAll(); // the runtime's own message says why
  }
  mark("runtime ready");
  setStatus("model-status", `Loading model version ${sidecar.version}…`);
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ["wasm"] });
  mark(`session ${sidecar.version}`);
  const previous = state.active;
  const before = state.top;
  const positionOf = new Map(sidecar.items.map((item, position) => [item, position]));
  state.active = { dataset, version: sidecar.version, sidecar, session, positionOf, search: searchIndex(sidecar) };
  if (state.picks.length) savePicks(); // the titles of picks this model has, saved before a later one may not
  showSuggestions(); // a query typed before holds for the new model's titles
  await score();
  if (previous && previous.dataset === dataset && previous.version !== sidecar.version) {
    const seconds = (performance.now() - state.pendingSince) / 1000;
    state.change = { from: previous.version, to: sidecar.version, before, after: state.top, notes, seconds };
    window.amnesiaDevice.switches.push(seconds);
    previous.session.release?.();
  }
  if (state.active.version === state.pendingVersion) state.pendingVersion = null;
  renderAll();
  mark(`in use ${sidecar.version}`);
  signal(state.active.version);
  if (fromServer) await keep(dataset, { version: sidecar.version, model: modelBytes, sidecar: sidecarBytes });
}

async function score() {
  const active = state.active;
  if (!active) return;
  const positions = state.picks.map((item) => active.positionOf.get(item)).filter((p) => p !== undefined);
  if (!positions.length) {
    state.top = [];
    state.lastMs = null;
    return;
  }
  const ort = await state.runtime;
  const history = new ort.Tensor("int64", BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]);
  const started = performance.now();
  const output = await active.session.run({ history }, ["top_items", "top_scores"]);
  const ms = performance.now() - started;
  window.amnesiaDevice.timings.push(ms);
  state.lastMs = ms;
  const items = output.top_items.data;
  const scores = output.top_scores.data;
  state.top = [];
  for (let k = 0; k < items.length; k++) {
    if (!(scores[k] > 0)) break; // sorted: the rest have no similar movie in the history
    const position = Number(items[k]);
    state.top.push({ id: active.sidecar.items[position], title: active.sidecar.titles[position], score: scores[k] });
  }
}

// scores a list of histories (positions) and returns the inference times in ms: for the benchmark
window.amnesiaDevice.benchmark = async (histories) => {
  const ort = await state.runtime;
  const times = [];
  for (const positions of histories) {
    const history = new ort.Tensor("int64", BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]);
    const started = performance.now();
    await state.active.session.run({ history }, ["top_items", "top_scores"]);
    times.push(performance.now() - started);
  }
  return times;
};

// ------------------------------------------------------------------ picking movies
const normalize = (text) =>
  text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/&/g, " and ")
    .replace(/'/g, "").replace(/[^a-z0-9]+/g, " ").trim();

function searchIndex(sidecar) {
  return sidecar.titles.map((title, position) => {
    const key = ` ${normalize(title)}`;
    return { position, key, words: key.trim().split(" ") };
  });
}

// at most one edit (a letter changed, added, dropped, or two swapped) between a and b: the Forget page
// finds "titanik" as a typo while this box had found nothing, on the same data
function closeTo(a, b) {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length || i === b.length) return Math.abs(a.length - b.length) <= 1;
  return a.slice(i + 1) === b.slice(i + 1) || a.slice(i) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i)
    || (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2));
}

// a typed word of four or more letters within one edit of the start of a title's word
const nearWord = (word, titleWords) => word.length >= 4 && titleWords.some((t) =>
  [word.length - 1, word.length, word.length + 1].some((n) => n <= t.length && closeTo(word, t.slice(0, n))));

// the titles that match a query but are already among the picks (so the box can say why nothing is offered)
let alreadyPicked = 0;
let spelledClose = false; // the suggestions are close spellings, not matches
function suggest(query) {
  const active = state.active;
  const words = normalize(query).split(" ").filter(Boolean);
  alreadyPicked = 0;
  spelledClose = false;
  if (!active || !words.length) return [];
  const picked = new Set(state.picks);
  const found = [];
  const phrase = ` ${words.join(" ")}`;
  const gather = (matches) => {
    for (const entry of active.search) {
      if (!matches(entry)) continue;
      const item = active.sidecar.items[entry.position];
      if (picked.has(item)) {
        alreadyPicked += 1;
        continue;
      }
      const rank = entry.key.startsWith(phrase) ? 0 : entry.key.includes(phrase) ? 1 : 2;
      found.push({ rank, length: entry.key.length, position: entry.position, item });
    }
  };
  // every typed word must start a word of the title ("matr" finds "The Matrix")
  gather((entry) => words.every((word) => entry.key.includes(` ${word}`)));
  if (!found.length && !alreadyPicked) { // nothing: a typed word may be one letter off ("titanik")
    gather((entry) => words.every((word) => entry.key.includes(` ${word}`) || nearWord(word, entry.words)));
    spelledClose = found.length > 0;
  }
  found.sort((a, b) => a.rank - b.rank || a.length - b.length || a.item - b.item);
  return found.slice(0, SUGGESTIONS);
}

let choices = [];
let highlighted = 0;
function showSuggestions() {
  const query = $("search").value.trim();
  choices = suggest(query);
  highlighted = 0;
  // a query that finds nothing says so, instead of leaving an empty box (a visitor took the silence for a
  // page that was not working)
  $("search-hint").textContent = !normalize(query) ? "" // "!!!" is no query: nothing to say
    : spelledClose ? `No title has “${query}” as typed; these are spelled one letter differently.`
    : choices.length ? ""
    : alreadyPicked ? `Every movie that matches “${query}” is already among your movies.`
    : `No movie in the model matches “${query}”: each word you type must start a word of the title. Try fewer letters.`;
  const list = $("suggestions");
  list.replaceChildren(...choices.map((choice, k) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(k === highlighted));
    li.textContent = state.active.sidecar.titles[choice.position];
    li.addEventListener("mousedown", (event) => {
      event.preventDefault(); // keep the focus in the search box
      pick(choice.item);
    });
    return li;
  }));
}

$("search").addEventListener("input", showSuggestions);
$("search").addEventListener("keydown", (event) => {
  if (event.key === "Escape") { // also when nothing matched: it clears the box and its hint
    $("search").value = "";
    showSuggestions();
    return;
  }
  if (!choices.length) return;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    highlighted = (highlighted + (event.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
    [...$("suggestions").children].forEach((li, k) => li.setAttribute("aria-selected", String(k === highlighted)));
    event.preventDefault();
  } else if (event.key === "Enter") {
    pick(choices[highlighted].item);
    event.preventDefault();
  }
});
$("clear").addEventListener("click", () => {
  state.picks = [];
  savePicks();
  showSuggestions(); // a typed query's matches and hint count the picks
  rescore();
});

function pick(item) {
  if (!state.picks.includes(item) && state.picks.length < PICKS_LIMIT) state.picks.push(item);
  savePicks();
  $("search").value = "";
  showSuggestions();
  rescore();
}
function unpick(item) {
  state.picks = state.picks.filter((id) => id !== item);
  savePicks();
  showSuggestions(); // "already among your movies" may no longer hold
  rescore();
}
function rescore() {
  state.change = null; // the before/after compared another history
  state.queue = state.queue.then(score).then(renderAll).catch((error) => showModelError(error));
}

// ------------------------------------------------------------------ rendering
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function setStatus(id, text, kind = "", html = false) {
  const element = $(id);
  if (id === "runtime-status" && state.runtimeError && kind !== "error") return;
  element.className = `status ${kind}`;
  if (html) element.innerHTML = text;
  else element.textContent = text;
}
function showModelError(error) {
  setStatus("model-status", `The model could not be used: ${error.message || error}`, "error");
}

function listItems(entries, marks = new Map()) {
  return entries.map((entry) => {
    const li = document.createElement("li");
    li.dataset.item = entry.id;
    const title = document.createElement("span");
    title.className = `title ${marks.get(entry.id) || ""}`;
    title.textContent = entry.title;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = shownScore(entry.score);
    li.append(title, score);
    return li;
  });
}

function renderAll() {
  const active = state.active;
  const runtimeBroken = Boolean(state.runtimeError);
  $("search").disabled = !active || runtimeBroken;
  if (runtimeBroken) {
    setStatus("model-status", "Without the runtime this page cannot score anything; your picks stay saved in this browser.");
  } else if (!active) {
    setStatus("model-status", state.pendingVersion ? `Downloading model version ${state.pendingVersion}…` : "Waiting for the model…");
  } else {
    const s = active.sidecar;
    const k = (s.neighbours === null ? "all neighbours" : `K = ${s.neighbours} neighbours`) +
      (s.scoring === "candidate" ? ", each movie scored from its own list" : "");
    setStatus("model-status",
      `Model version ${s.version} · ${s.items.length.toLocaleString("en")} movies · ` +
      `${s.measure.charAt(0).toUpperCase()}${s.measure.slice(1)} similarity · ${k}` +
      (state.pendingVersion ? ` · downloading version ${state.pendingVersion}…` : ""));
  }
  const picks = $("picks");
  picks.replaceChildren(...state.picks.map((item) => {
    const li = document.createElement("li");
    const position = active ? active.positionOf.get(item) : undefined;
    const title = pickTitle(item);
    if (active && position === undefined) {
      li.className = "missing";
      li.title = "Not in this model: no one watches it any more";
    }
    li.append(document.createTextNode(title));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${title}`);
    remove.addEventListener("click", () => unpick(item));
    li.append(remove);
    return li;
  }));
  const missing = active ? state.picks.filter((item) => !active.positionOf.has(item)).length : 0;
  $("picks-hint").textContent = !state.picks.length
    ? "Pick a few movies you liked; they are saved in this browser only."
    : missing ? `${missing} of your picks ${missing === 1 ? "is" : "are"} not in this model (no one watches ` +
      `${missing === 1 ? "it" : "them"} any more); ${missing === 1 ? "it is" : "they are"} ignored.` : "";
  $("clear").hidden = !state.picks.length;
  $("top").replaceChildren(...listItems(state.top));
  $("timing").textContent = runtimeBroken ? "" : !active ? "" : !state.picks.length
    ? "Your recommendations appear here."
    : !state.top.length ? `No recommendations: ${shortBecause(active.sidecar, 0, state.picks.length - missing)}.`
    : `Scored on this device in ${state.lastMs.toFixed(1)} ms with model version ${active.version}.` +
      (state.top.length < TOP ? ` ${shortBecause(active.sidecar, state.top.length, state.picks.length - missing)}` : "");
  renderChange();
}

// why the list holds only `count` movies, the model's reason or the catalog's: the toy world's 5 movies had
// the page say "shorter than 5" under the top 10 it promises, as if 5 were the length asked for
function shortBecause(sidecar, count, picked) {
  const unpicked = sidecar.items.length - picked;
  if (count >= unpicked) {
    return count === 0 ? "you have picked every movie in this model"
      : `Only ${count === 1 ? "1 movie in this model is" : `${count} movies in this model are`} not among your ` +
        `picks, so the list is shorter than ${TOP}.`;
  }
  return count === 0 ? `${reach(sidecar, 0)}. Pick more movies`
    : `Only ${reach(sidecar, count)}, so the list is shorter than ${TOP}; pick more movies for more.`;
}

// why only `count` movies score above 0, in the model's own terms: with K-lists read "candidate"-wise a
// movie scores only when one of your picks is among its own K most similar; a visitor who picked Toy
// Story alone got one recommendation under a heading that promised ten, with no word why
function reach(sidecar, count) {
  const movies = count === 1 ? "1 movie has" : `${count === 0 ? "no" : count} movies have`;
  if (sidecar.neighbours === null) {
    return `${count === 0 ? "no" : count} other ${count === 1 ? "movie shares" : "movies share"} a viewer with your picks`;
  }
  return sidecar.scoring === "candidate"
    ? `${movies} one of your picks among ${count === 1 ? "its" : "their"} ${sidecar.neighbours} most similar movies`
    : `your picks' ${sidecar.neighbours} most similar movies give ${count === 0 ? "no" : count} other ` +
      `${count === 1 ? "movie" : "movies"}`;
}

function renderChange() {
  const change = state.change;
  $("change").hidden = !change;
  if (!change) return;
  $("change-summary").textContent =
    `Version ${change.from} → ${change.to}: the new model was in use ${change.seconds.toFixed(2)} s after the server ` +
    `announced it. ${listChange(change.before, change.after, state.picks.length > 0)}`;
  $("change-notes").replaceChildren(...change.notes.map((note) => {
    const li = document.createElement("li");
    li.textContent = note;
    return li;
  }));
  // with no picks there is no list: two empty columns under "did not change" looked broken (a visitor's pass)
  $("change-lists").hidden = change.before.length === 0 && change.after.length === 0;
  const beforeIds = new Set(change.before.map((e) => e.id));
  const afterIds = new Set(change.after.map((e) => e.id));
  $("before").replaceChildren(...listItems(change.before,
    new Map(change.before.filter((e) => !afterIds.has(e.id)).map((e) => [e.id, "left"]))));
  $("after").replaceChildren(...listItems(change.after,
    new Map(change.after.filter((e) => !beforeIds.has(e.id)).map((e) => [e.id, "entered"]))));
}
const shownScore = (score) => score.toFixed(4); // a score as the lists show it: 4 decimals, as the Recommendations page
// does (with 3, "equal bit for bit" sat over 0.568 here and 0.5678 there)
const sameList = (a, b) => a.length === b.length && a.every((e, k) => e.id === b[k].id);
// as the lists show them: same movies in the same order can still have other scores (a forget moves every S
// of the movies it touched), and "did not change" above two lists with other numbers reads as a mistake
const sameScores = (a, b) => a.every((e, k) => shownScore(e.score) === shownScore(b[k].score));
// (with picks, both lists can still be empty: no movie shares a viewer with them, or every movie is picked)
const listChange = (before, after, picked = true) => before.length === 0 && after.length === 0
  ? (picked ? "Your picks had no recommendations before the change and have none after it."
    : "You have no picks yet, so there is no top 10 to compare: pick movies above to see yours.")
  : !sameList(before, after) ? "Your top 10 changed:"
  : sameScores(before, after) ? "Your top 10 did not change." : "Your top 10 kept its movies and their order; their scores changed:";
