// The agent console. Everything comes from the escalation service's JSON API with the agent's bearer
// token (common.js: API client, sign-in, and el(), which sets text only with textContent).
"use strict";

const QUEUE_REFRESH_MS = 1500;
const LONG_POLL_SECONDS = 20;
const HEARTBEAT_MS = 20000;  // the service counts an agent offline a minute after the last one

const state = {
  waiting: [],
  mine: [],
  openId: null,  // the handoff shown on the right
  cursor: 0,  // newest message id shown
  pollGeneration: 0,  // a new conversation view stops the previous long-poll loop
  known: null,  // ids of my conversations at the last refresh (null: not loaded yet)
  lastCustomerMessage: new Map(),  // handoff id -> the latest customer message id seen in the list
  clockStates: new Map(),  // "handoff id/clock" -> its state at the last refresh
  resolutionCodes: [],  // of the open conversation's queue
};

session.onSignOut = () => {
  state.openId = null;
  state.pollGeneration += 1;
  state.known = null;
  state.lastCustomerMessage.clear();
  state.clockStates.clear();
};

async function enterWorkspace(me) {
  const {queues} = await api("GET", "/api/queues");
  const select = $("transfer-queue");
  select.replaceChildren(...queues.map((name) => el("option", {text: name, attrs: {value: name}})));
  $("presence").value = me.presence === "offline" ? "online" : me.presence;  // opening the console: online
  await sendPresence();
  await refreshQueue();
  const resumed = sessionStorage.getItem("open_handoff");
  if (resumed && state.mine.some((h) => h.id === resumed)) openConversation(resumed);
}

// --- presence and notifications ------------------------------------------------------------------
// The console repeats its status as a heartbeat: a closed console stops it, and routing stops giving
// this agent chats within a minute.
async function sendPresence() {
  if (!session.token) return;
  try {
    const now = await api("POST", "/api/presence", {status: $("presence").value});
    $("load").textContent = `${now.open_conversations} of ${now.capacity} chats`;
  } catch (error) {
    if (error.status !== 401) setStatus(`Could not update your status: ${error.message}`, true);
  }
}

$("presence").addEventListener("change", async () => {
  if ($("presence").value === "online" && "Notification" in window && Notification.permission === "default") {
    Notification.requestPermission();  // a user's gesture: browsers allow asking now
  }
  await sendPresence();
  await refreshQueue();
});
setInterval(sendPresence, HEARTBEAT_MS);

function beep() {
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.08;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  } catch (_) { /* no audio: the visible notice still shows */ }
}

// A visible notice (always), a sound and a desktop notification (where the browser allows).
function notify(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { notice.hidden = true; }, 8000);
  beep();
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification("Larkspur console", {body: text});
  }
}

// A customer's new message in a conversation the agent is not looking at, and an SLA clock of theirs
// turning at risk, each raise a notice (the first refresh only learns what is there).
function noticeChanges(mine, arrived) {
  const fresh = new Set(arrived.map((h) => h.id));
  for (const handoff of mine) {
    const seen = state.lastCustomerMessage.get(handoff.id);
    const latest = handoff.last_customer_message_id || 0;
    if (seen !== undefined && latest > seen && handoff.id !== state.openId && !fresh.has(handoff.id)) {
      notify(`${handoff.customer_id || "A customer"} wrote in a conversation you are not looking at.`);
    }
    state.lastCustomerMessage.set(handoff.id, latest);
    for (const clock of handoff.sla || []) {
      const key = `${handoff.id}/${clock.name}`;
      const before = state.clockStates.get(key);
      if (before !== undefined && before !== clock.state && clock.state === "at_risk") {
        notify(`At risk: ${CLOCK_NAMES[clock.name]} for ${handoff.customer_id || "an anonymous visitor"} (${clockText(clock)}).`);
      }
      state.clockStates.set(key, clock.state);
    }
  }
}

$("sort").addEventListener("change", () => refreshQueue());

// --- the queue ----------------------------------------------------------------------------------
function countdown(handoff, now) {
  const due = Date.parse(handoff.sla_due_at);
  const seconds = Math.round((due - now) / 1000);
  const abs = Math.abs(seconds);
  const text = abs >= 3600 ? `${Math.floor(abs / 3600)}h ${Math.floor((abs % 3600) / 60)}m`
    : `${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}`;
  return seconds >= 0 ? {text: `SLA in ${text}`, breached: false} : {text: `SLA breached ${text} ago`, breached: true};
}

function badges(handoff) {
  const segment = handoff.segment || {};
  const list = [el("span", {text: handoff.tier, cls: `badge tier-${handoff.tier}`})];
  if (segment.journey_stage && segment.journey_stage !== "unknown") {
    list.push(el("span", {text: segment.journey_stage.replace("_", " "), cls: `badge stage-${segment.journey_stage}`}));
  }
  if (segment.last_csat !== null && segment.last_csat !== undefined && segment.last_csat <= 2) {
    list.push(el("span", {text: `last CSAT ${segment.last_csat}`, cls: "badge warn"}));
  }
  list.push(el("span", {text: handoff.queue, cls: "badge badge-queue"}));
  if (handoff.channel && handoff.channel !== "live_chat") {
    list.push(el("span", {text: handoff.channel.replace("_", " "), cls: "badge badge-channel"}));
  }
  return list;
}

const CLOCK_NAMES = {first_response: "First response", next_response: "Next response", resolution: "Resolution"};

function clockText(clock) {
  const left = clock.remaining_seconds;
  const abs = Math.abs(left);
  const span = abs >= 3600 ? `${Math.floor(abs / 3600)}h ${Math.floor((abs % 3600) / 60)}m` : `${Math.floor(abs / 60)}m ${abs % 60}s`;
  const when = clock.stopped_at ? clock.state : left >= 0 ? `${span} left` : `${span} over`;
  return `${CLOCK_NAMES[clock.name] || clock.name}: ${when}${clock.business_hours ? " (business hours)" : ""}`;
}

function clockBadges(clocks) {
  return (clocks || []).map((clock) => el("span", {text: clockText(clock), cls: `badge clock clock-${clock.state}`,
                                                    attrs: {"data-clock": clock.name, "data-state": clock.state}}));
}

function queueRow(handoff, now, {claimable}) {
  const sla = countdown(handoff, now);
  const breached = sla.breached || Boolean(handoff.sla_breached_at);
  const row = el("li", {cls: `handoff${breached ? " breached" : ""}${handoff.id === state.openId ? " open" : ""}`,
                        attrs: {"data-id": handoff.id}});
  row.append(
    el("div", {cls: "row-head"}, [
      el("span", {text: handoff.customer_id || "anonymous visitor", cls: "customer"}),
      el("span", {text: sla.text, cls: `sla${breached ? " breached" : ""}`, attrs: {"data-due": handoff.sla_due_at}}),
    ]),
    el("div", {cls: "badges"}, badges(handoff)),
    el("div", {cls: "badges sla-clocks"}, clockBadges(handoff.sla)),
    el("ul", {cls: "reasons"}, (handoff.reasons || []).map((reason) => el("li", {text: reason.text, attrs: {"data-code": reason.code}}))),
  );
  const who = handoff.customer_id || "an anonymous visitor";
  const button = claimable
    ? el("button", {text: "Claim", cls: "primary claim", attrs: {type: "button", "aria-label": `Claim ${who}`}})
    : el("button", {text: "Open", cls: "open",
                    attrs: {type: "button", "aria-label": `Open the conversation with ${who}`}});
  button.addEventListener("click", () => (claimable ? claim(handoff.id) : openConversation(handoff.id)));
  row.append(button);
  return row;
}

// What a list shows, apart from the ticking countdowns: the queue is rebuilt only when this changes,
// so a refresh does not take the keyboard focus away from the button an agent is on.
function listSignature(handoffs) {
  return JSON.stringify([state.openId, handoffs.map((h) => [h.id, h.status, h.queue, h.sla_breached_at, h.reasons,
    (h.sla || []).map((c) => [c.name, c.state, Math.round(c.remaining_seconds / 60)])])]);
}

function renderList(listId, handoffs, options) {
  const list = $(listId);
  const signature = listSignature(handoffs);
  if (list.dataset.signature === signature) return;
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedId = focused && focused.closest("[data-id]") ? focused.closest("[data-id]").getAttribute("data-id") : null;
  const now = Date.now();
  list.replaceChildren(...handoffs.map((h) => queueRow(h, now, options)));
  list.dataset.signature = signature;
  if (focused) {  // the same row's button, or the row that took its place, keeps the focus
    const same = focusedId && list.querySelector(`[data-id="${CSS.escape(focusedId)}"] button`);
    const fallback = list.querySelector("button");
    (same || fallback || $(listId === "queue" ? "waiting-heading" : "mine-heading")).focus();
  }
}

function renderQueue() {
  renderList("queue", state.waiting, {claimable: true});
  renderList("mine", state.mine, {claimable: false});
  $("waiting-count").textContent = state.waiting.length;
  $("mine-count").textContent = state.mine.length;
}

async function refreshQueue() {
  if (!session.token || !session.person) return;
  try {
    const sort = $("sort").value;
    const [waiting, assigned] = await Promise.all([
      api("GET", `/api/handoffs?status=waiting&sort=${sort}`), api("GET", `/api/handoffs?status=assigned&mine=1&sort=${sort}`)]);
    state.waiting = waiting;
    state.mine = assigned.filter((h) => h.agent_id === session.person.name);
    $("load").textContent = `${state.mine.length} of ${session.person.capacity} chats`;
    const arrived = state.known ? state.mine.filter((h) => !state.known.has(h.id)) : [];
    state.known = new Set(state.mine.map((h) => h.id));
    renderQueue();
    for (const handoff of arrived) {
      notify(`New conversation for you: ${handoff.customer_id || "an anonymous visitor"} (${handoff.tier}, ${handoff.queue}).`);
    }
    if (arrived.length && !state.openId) openConversation(arrived[0].id);  // nothing open: show it at once
    noticeChanges(state.mine, arrived);
    $("refreshed").textContent = `Queue updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error.status !== 401) setStatus(`Could not refresh the queue: ${error.message}`, true);
  }
}

async function claim(id) {
  try {
    await api("POST", `/api/handoffs/${encodeURIComponent(id)}/claim`);
    await refreshQueue();
    openConversation(id);
  } catch (error) {
    setStatus(error.status === 409 ? `Someone else was faster: ${error.message}` : error.message, true);
    await refreshQueue();
  }
}

// --- one conversation ---------------------------------------------------------------------------
function profileEntries(profile, handoff) {
  if (!profile) return [["Customer", "anonymous visitor (not signed in)"], ["Tier", handoff.tier]];
  const money = (value) => (value === null || value === undefined ? "–" : `€${Math.round(value).toLocaleString()}`);
  return [
    ["Customer", `${profile.name} (${profile.customer_id})`],
    ["Tier", profile.tier], ["Journey stage", profile.journey_stage.replace("_", " ")],
    ["Lifetime value", money(profile.lifetime_value)], ["Potential value", money(profile.potential_value)],
    ["Last CSAT", profile.last_csat ?? "–"], ["NPS", profile.nps ?? "–"],
    ["Prefers", profile.preferred_channel], ["Language", profile.language], ["Region", profile.region],
    ["Support contacts (30 days)", profile.support_contacts_30d],
  ];
}

// The latest customer message as the detector read it: its dissatisfaction score and the cues that fired.
function dissatisfactionLine(sentiment) {
  const line = $("dissatisfaction");
  if (!sentiment || sentiment.dissatisfaction === undefined) { line.textContent = ""; return; }
  const cues = sentiment.cues && sentiment.cues.length ? `; cues: ${sentiment.cues.join(", ")}` : "";
  const verdict = sentiment.dissatisfied ? "dissatisfied" : "not dissatisfied";
  line.textContent = `Latest message: ${verdict} (score ${sentiment.dissatisfaction.toFixed(2)} of 1${cues})`;
}

function sparkline(values) {
  const box = $("sentiment");
  box.replaceChildren();
  if (!values.length) { box.textContent = "No messages yet."; return; }
  const ns = "http://www.w3.org/2000/svg";
  const width = 240, height = 48, step = values.length > 1 ? width / (values.length - 1) : 0;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "spark");
  const zero = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({x1: 0, x2: width, y1: height / 2, y2: height / 2, class: "zero"})) zero.setAttribute(k, v);
  svg.append(zero);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${((1 - v) * height / 2).toFixed(1)}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  values.forEach((v, i) => {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", (i * step).toFixed(1));
    dot.setAttribute("cy", ((1 - v) * height / 2).toFixed(1));
    dot.setAttribute("r", "3");
    dot.setAttribute("class", v <= -0.05 ? "neg" : v >= 0.05 ? "pos" : "neu");
    svg.append(dot);
  });
  const last = values[values.length - 1];
  box.append(svg, el("span", {text: `latest ${last.toFixed(2)} (−1 very negative … +1 very positive)`, cls: "hint"}));
}

function noteItem(note) {
  const time = new Date(note.created_at).toLocaleString();
  return el("li", {cls: "note"}, [el("div", {cls: "meta", text: `${note.agent_id} · ${time}`}),
                                  el("div", {cls: "text", text: note.text})]);
}

function historyItem(past) {
  const when = new Date(past.created_at).toLocaleDateString();
  const outcome = [past.status, past.resolution_code, past.csat ? `CSAT ${past.csat}/5` : null].filter(Boolean).join(" · ");
  return el("li", {cls: "past"}, [
    el("div", {cls: "meta", text: `${when} · ${past.queue} · ${outcome}${past.agent_id ? ` · ${past.agent_id}` : ""}`}),
    past.summary ? el("div", {cls: "text", text: past.summary}) : el("div", {cls: "hint", text: "No summary."}),
    ...(past.notes || []).map((note) => el("div", {cls: "hint", text: `Note (${note.agent_id}): ${note.text}`})),
    el("details", {}, [el("summary", {text: `Conversation (${past.transcript.length} messages)`}),
                       el("ol", {cls: "transcript past-transcript"}, past.transcript.map(messageItem))]),
  ]);
}

// The open conversation's notes by id: a detail fetched before a note was added must not hide it.
const shownNotes = new Map();

function renderNotes() {
  const notes = [...shownNotes.values()].sort((a, b) => a.id - b.id);
  $("notes").replaceChildren(...notes.map(noteItem));
  if (!notes.length) $("notes").append(el("li", {cls: "hint", text: "No notes yet."}));
}

function showWorkspace(detail) {
  $("sla-clocks").replaceChildren(...clockBadges(detail.sla));
  if (detail.id !== shownNotes.handoffId) { shownNotes.clear(); shownNotes.handoffId = detail.id; }
  for (const note of detail.notes || []) shownNotes.set(note.id, note);
  renderNotes();
  $("history").replaceChildren(...(detail.history || []).map(historyItem));
  if (!(detail.history || []).length) $("history").append(el("li", {cls: "hint", text: "No earlier handoffs."}));
  state.resolutionCodes = detail.resolution_codes || [];
}

async function loadCanned(id) {
  const select = $("canned");
  select.replaceChildren(el("option", {text: "Insert a canned response…", attrs: {value: ""}}));
  try {
    const canned = await api("GET", `/api/handoffs/${encodeURIComponent(id)}/canned`);
    for (const item of canned) select.append(el("option", {text: item.title, attrs: {value: item.text}}));
  } catch (error) {
    setStatus(`Could not load the canned responses: ${error.message}`, true);
  }
}

$("canned").addEventListener("change", () => {
  const text = $("canned").value;
  if (!text) return;
  const reply = $("reply");
  reply.value = reply.value.trim() ? `${reply.value.trim()} ${text}` : text;
  $("canned").value = "";
  reply.focus();
});

$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note").value.trim();
  if (!text || !state.openId) return;
  try {
    const note = await api("POST", `/api/handoffs/${encodeURIComponent(state.openId)}/notes`, {text});
    if (note.handoff_id === shownNotes.handoffId) shownNotes.set(note.id, note);
    renderNotes();
    $("note").value = "";
    setStatus("Note added (agents only).");
  } catch (error) {
    setStatus(`The note was not saved: ${error.message}`, true);
  }
});

function messageItem(message) {
  const who = message.sender === "agent" ? (message.agent || "agent") : message.sender;
  const time = message.timestamp ? new Date(message.timestamp * 1000).toLocaleTimeString() : "";
  return el("li", {cls: `msg from-${message.sender}`, attrs: {"data-id": message.id}}, [
    el("div", {cls: "meta", text: `${who} · ${time}`}),
    el("div", {cls: "text", text: message.text}),
  ]);
}

function appendMessages(messages) {
  const list = $("transcript");
  for (const message of messages) {
    if (list.querySelector(`[data-id="${message.id}"]`)) continue;
    list.append(messageItem(message));
    state.cursor = Math.max(state.cursor, message.id);
  }
  list.scrollTop = list.scrollHeight;
}

function setWorkable(handoff) {
  const mine = handoff.status === "assigned" && handoff.agent_id === session.person.name;
  for (const id of ["reply", "resolve", "transfer", "transfer-queue", "decline", "canned"]) $(id).disabled = !mine;
  $("composer").querySelector("button").disabled = !mine;
  $("conversation-note").textContent = mine ? (handoff.channel === "live_chat" ? "" :
    `The customer asked for a ${handoff.channel.replace("_", " ")}; a chat message reaches them only if they are still on the site.`)
    : `This conversation is ${handoff.status}${handoff.agent_id ? ` (${handoff.agent_id})` : ""}; it is read-only here.`;
}

async function openConversation(id) {
  state.openId = id;
  state.cursor = 0;
  const generation = ++state.pollGeneration;
  sessionStorage.setItem("open_handoff", id);
  let detail;
  try {
    detail = await api("GET", `/api/handoffs/${encodeURIComponent(id)}`);
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  $("empty").hidden = true;
  $("conversation").hidden = false;
  const profile = detail.profile;
  $("customer-name").textContent = profile ? profile.name : "Anonymous visitor";
  $("customer-badges").replaceChildren(...badges(detail));
  $("profile").replaceChildren(...profileEntries(profile, detail).flatMap(([term, value]) => [
    el("dt", {text: term}), el("dd", {text: value})]));
  $("reasons").replaceChildren(...detail.reasons.map((reason) => el("li", {text: reason.text, attrs: {"data-code": reason.code}})));
  sparkline(detail.sentiment_trend);
  dissatisfactionLine(detail.latest_sentiment);
  showWorkspace(detail);
  loadCanned(id);
  $("transcript").replaceChildren();
  appendMessages(detail.transcript);
  setWorkable(detail);
  renderQueue();
  if (detail.status === "assigned") $("reply").focus();
  followMessages(id, generation, detail);
}

async function followMessages(id, generation, detail) {
  // Long-poll: the server answers as soon as there is a newer message (or after LONG_POLL_SECONDS).
  while (generation === state.pollGeneration && session.token) {
    try {
      const update = await api("GET",
        `/api/handoffs/${encodeURIComponent(id)}/messages?after=${state.cursor}&wait=${LONG_POLL_SECONDS}`);
      if (generation !== state.pollGeneration) return;
      if (update.messages.length) {
        appendMessages(update.messages);
        const fresh = await api("GET", `/api/handoffs/${encodeURIComponent(id)}`);  // sentiment, status
        if (generation !== state.pollGeneration) return;
        sparkline(fresh.sentiment_trend);
        dissatisfactionLine(fresh.latest_sentiment);
        showWorkspace(fresh);
        setWorkable(fresh);
      } else if (update.status !== detail.status || update.agent_id !== detail.agent_id) {
        detail = {...detail, status: update.status, agent_id: update.agent_id};
        setWorkable(detail);
      }
    } catch (error) {
      if (error.status === 401) return;
      setStatus(`Lost the conversation feed (${error.message}); retrying…`, true);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text || !state.openId) return;
  const button = $("composer").querySelector("button");
  button.disabled = true;
  try {
    await api("POST", `/api/handoffs/${encodeURIComponent(state.openId)}/messages`, {text});
    $("reply").value = "";
  } catch (error) {
    setStatus(`Not sent: ${error.message}`, true);
  } finally {
    button.disabled = false;
    $("reply").focus();
  }
});

$("reply").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

async function closeConversation(action, body) {
  const id = state.openId;
  try {
    await api("POST", `/api/handoffs/${encodeURIComponent(id)}/${action}`, body);
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  state.pollGeneration += 1;
  state.openId = null;
  sessionStorage.removeItem("open_handoff");
  $("conversation").hidden = true;
  $("empty").hidden = false;
  setStatus(action === "resolve" ? "Resolved: the bot has the conversation again and asked for a rating."
    : action === "decline" ? "Declined: it goes to someone else." : `Transferred to ${body.queue}.`);
  $("handoff-reason").value = "";
  await refreshQueue();
}

// Wrap-up: the agent picks a resolution code (the queue's, from the rules) and may write a summary.
$("resolve").addEventListener("click", () => {
  const codes = state.resolutionCodes;  // none configured for the queue: resolving needs no code
  $("resolution-code").replaceChildren(el("option", {text: codes.length ? "Choose…" : "(no codes for this queue)", attrs: {value: ""}}),
    ...codes.map((code) => el("option", {text: code.replaceAll("_", " "), attrs: {value: code}})));
  $("resolution-code").required = codes.length > 0;
  $("summary").value = "";
  $("wrap-up").showModal();
  $("resolution-code").focus();
});
$("wrap-up-cancel").addEventListener("click", () => $("wrap-up").close());
$("wrap-up-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = $("resolution-code").value;
  if (!code && state.resolutionCodes.length) { $("resolution-code").focus(); return; }
  $("wrap-up").close();
  closeConversation("resolve", {resolution_code: code || undefined, summary: $("summary").value.trim() || undefined});
});
$("transfer").addEventListener("click", () => closeConversation("transfer", {
  queue: $("transfer-queue").value, reason: $("handoff-reason").value.trim() || undefined}));
$("decline").addEventListener("click", () => {
  const reason = $("handoff-reason").value.trim();
  if (!reason) {
    setStatus("Say why you decline it (in the reason box), so the next agent knows.", true);
    $("handoff-reason").focus();
    return;
  }
  closeConversation("decline", {reason});
});

// The SLA countdowns tick every second between refreshes.
setInterval(() => {
  const now = Date.now();
  for (const node of document.querySelectorAll(".sla[data-due]")) {
    const sla = countdown({sla_due_at: node.getAttribute("data-due")}, now);
    node.textContent = sla.text;
    if (sla.breached) {
      node.classList.add("breached");
      node.closest(".handoff").classList.add("breached");
    }
  }
}, 1000);
setInterval(refreshQueue, QUEUE_REFRESH_MS);

setUpSignIn("agent", enterWorkspace);
