// The trainers' page: the review inbox, labelling, and the safe release of a new model.
// API client, sign-in and el() (text only, never HTML) are in common.js.
"use strict";

const RELEASE_POLL_MS = 2000;
let choices = {intents: [], faq_topics: [], heldout_share: 0.25};
let chartUrl = null;

function option(value, text) { return el("option", {text: text || value, attrs: {value}}); }

function contextList(context) {
  return el("ol", {cls: "context-list"}, context.map((line) => el("li", {
    cls: `msg from-${line.sender}${line.flagged ? " flagged" : ""}`, text: `${line.sender}: ${line.text}`})));
}

function labelForm(group, card) {
  const kind = el("select", {cls: "kind", attrs: {"aria-label": "Label kind"}}, [
    option("faq", "FAQ topic"), option("intent", "Intent"), option("new_faq", "New FAQ topic"),
    option("out_of_scope", "Out of scope")]);
  const name = el("select", {cls: "name", attrs: {"aria-label": "Intent or topic"}});
  const newName = el("input", {cls: "new-name", attrs: {placeholder: "new_topic_name", "aria-label": "New topic name"}});
  const answer = el("textarea", {cls: "answer", attrs: {rows: "2", placeholder: "The answer the bot will give",
                                                         "aria-label": "Answer"}});
  const submit = el("button", {text: "Label", cls: "primary label", attrs: {type: "button"}});
  const result = el("p", {cls: "hint result"});
  function sync() {
    const k = kind.value;
    name.replaceChildren(...(k === "faq" ? choices.faq_topics : choices.intents).map((n) => option(n)));
    if (k === "faq" && group.best_guess && group.best_guess.startsWith("faq/")) name.value = group.best_guess.slice(4);
    if (k === "faq" && group.predicted.startsWith("faq/")) name.value = group.predicted.slice(4);
    name.hidden = !(k === "faq" || k === "intent");
    newName.hidden = answer.hidden = k !== "new_faq";
  }
  kind.addEventListener("change", sync);
  sync();
  submit.addEventListener("click", async () => {
    const texts = [...card.querySelectorAll("input.wording:checked")].map((box) => box.value);
    const body = {texts, kind: kind.value};
    if (kind.value === "faq" || kind.value === "intent") body.name = name.value;
    if (kind.value === "new_faq") { body.name = newName.value.trim(); body.answer = answer.value; }
    submit.disabled = true;
    try {
      const done = await api("POST", "/api/training/labels", body);
      const parts = [`${done.trained.length} added to the training data`, `${done.held_out.length} to the held-out set`];
      if (done.skipped.length) parts.push(`${done.skipped.length} skipped (${done.skipped.map((s) => s.reason).join("; ")})`);
      result.textContent = `Labelled ${done.label}: ${parts.join(", ")}.`;
      card.classList.add("done");
      for (const box of card.querySelectorAll("input, select, textarea, button.label")) box.disabled = true;
      if (kind.value === "new_faq") await loadChoices();
    } catch (error) {
      result.textContent = `Not labelled: ${error.message}`;
      result.classList.add("error");
      submit.disabled = false;
    }
  });
  return el("div", {cls: "label-form"}, [kind, name, newName, answer, submit, result]);
}

// How the customer felt: the detector's own training data (data/dissatisfaction.yml), apart from the intent.
function feelingForm(group, card) {
  const said = group.dissatisfaction === null ? "no score recorded"
    : `detector: ${group.called_dissatisfied} of ${group.count} called dissatisfied, highest score ${group.dissatisfaction.toFixed(2)}`;
  const result = el("p", {cls: "hint feeling-result"});
  const buttons = [["dissatisfied", "Dissatisfied"], ["not_dissatisfied", "Not dissatisfied"]].map(([label, text]) =>
    el("button", {text, cls: `feeling ${label}`, attrs: {type: "button", "data-label": label}}));
  for (const button of buttons) {
    button.addEventListener("click", async () => {
      const texts = [...card.querySelectorAll("input.wording:checked")].map((box) => box.value);
      for (const b of buttons) b.disabled = true;
      try {
        const done = await api("POST", "/api/training/dissatisfaction", {texts, label: button.dataset.label});
        const parts = [`${done.trained.length} to the detector's training data`, `${done.held_out.length} to its held-out set`];
        if (done.skipped.length) parts.push(`${done.skipped.length} skipped (${done.skipped.map((s) => s.reason).join("; ")})`);
        result.textContent = `Marked ${done.label.replace("_", " ")}: ${parts.join(", ")}.`;
        result.classList.remove("error");
      } catch (error) {
        result.textContent = `Not marked: ${error.message}`;
        result.classList.add("error");
        for (const b of buttons) b.disabled = false;
      }
    });
  }
  return el("div", {cls: "feeling-form", attrs: {role: "group", "aria-label": "How the customer felt"}}, [
    el("span", {cls: "hint", text: `How did the customer feel? (${said})`}), ...buttons, result]);
}

function groupCard(group) {
  const card = el("li", {cls: "group", attrs: {"data-id": group.id}});
  const prediction = group.best_guess ? `${group.predicted} (best guess ${group.best_guess})` : group.predicted;
  card.append(
    el("div", {cls: "row-head"}, [el("span", {cls: "customer", text: group.text}),
                                  el("span", {cls: "count", text: `×${group.count}`})]),
    el("div", {cls: "hint", text: `Bot predicted ${prediction}, confidence ${group.mean_confidence.toFixed(2)}`}),
    el("div", {cls: "badges"}, Object.entries(group.reasons).map(([reason, n]) =>
      el("span", {cls: "badge warn", text: n > 1 ? `${reason} ×${n}` : reason}))),
    el("ul", {cls: "wordings"}, group.wordings.map((w) => el("li", {}, [
      el("label", {}, [el("input", {cls: "wording", attrs: {type: "checkbox", value: w.text, checked: ""}}),
                       document.createTextNode(` ${w.text}${w.count > 1 ? ` (×${w.count})` : ""}`)])]))),
    el("details", {}, [el("summary", {text: "Conversation"}), contextList(group.context)]),
    labelForm(group, card),
    feelingForm(group, card),
  );
  return card;
}

async function loadChoices() {
  choices = await api("GET", "/api/training/labels");
  $("inbox-hint").textContent = `Customer messages the bot handled poorly, most frequent first. Labelling writes them into data/; `
    + `about ${Math.round(choices.heldout_share * 100)}% of every batch goes to the held-out test set instead (never trained on). `
    + `Marking how the customer felt teaches the dissatisfaction detector (data/dissatisfaction.yml) at the next release.`;
}

async function refreshInbox() {
  const inbox = await api("GET", "/api/training/inbox");
  $("inbox").replaceChildren(...inbox.groups.map(groupCard));
  $("inbox-count").textContent = inbox.groups.length;
  if (!inbox.groups.length) $("inbox").append(el("li", {cls: "hint", text: "Nothing to review."}));
}

// --- release -------------------------------------------------------------------------------------
function modelsView(models) {
  const name = (path) => (path ? path.split("/").pop() : "–");
  $("models").replaceChildren(el("dt", {text: "Live model"}), el("dd", {text: models.serving || name(models.live)}),
                              el("dt", {text: "Previous (rollback)"}), el("dd", {text: name(models.previous)}));
  $("rollback").disabled = !models.previous;
}

function table(headers, rows) {
  return el("table", {cls: "report"}, [
    el("thead", {}, [el("tr", {}, headers.map((h) => el("th", {text: h})))]),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {text: cell}))))),
  ]);
}

async function showChart(runId, box) {
  const response = await fetch(`/api/training/releases/${runId}/confusion.png`,
                               {headers: {"Authorization": `Bearer ${session.token}`}});
  if (!response.ok) return;
  if (chartUrl) URL.revokeObjectURL(chartUrl);
  chartUrl = URL.createObjectURL(await response.blob());
  box.append(el("img", {cls: "confusion", attrs: {src: chartUrl, alt: "Confusion chart of the candidate"}}));
}

function releaseView(run) {
  const box = $("release");
  box.replaceChildren();
  const stateText = {running: "Running…", passed: "Passed and loaded into the live bot", refused: "Refused",
                     failed: "Failed"}[run.state] || run.state;
  box.append(el("h3", {cls: `verdict ${run.state}`, text: `Release ${run.id}: ${stateText}`}),
             el("ol", {cls: "progress"}, run.progress.map((line) => el("li", {text: line}))));
  if (run.error) box.append(el("pre", {cls: "error", text: run.error}));
  const report = run.report;
  if (!report) return;
  if (report.refusals.length) {
    box.append(el("h4", {text: "Why it was refused"}),
               el("ul", {cls: "refusals"}, report.refusals.map((r) => el("li", {text: r}))));
  }
  if (report.heldout) {
    const held = report.heldout, tol = report.tolerance;
    const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(3));
    box.append(
      el("p", {cls: "hint", text: `Held-out NLU test: ${held.messages} messages. Tolerance: overall ${tol.overall}, `
        + `per label ${tol.per_label} (labels with at least ${tol.min_label_examples} messages).`}),
      table(["", "candidate", "live"], [["overall accuracy", fmt(held.candidate), fmt(held.live)]]));
    const changed = Object.entries(held.per_label).filter(([, r]) => r.live === null || r.candidate !== r.live);
    if (changed.length) {
      box.append(el("h4", {text: "Labels whose accuracy changed"}),
                 table(["label", "messages", "candidate", "live"],
                       changed.map(([label, r]) => [label, String(r.messages), fmt(r.candidate), fmt(r.live)])));
    }
    showChart(run.id, box);
  }
  const detector = report.dissatisfaction;
  if (detector && detector.messages) {  // the dissatisfaction detector the candidate carries, on the held-out labels
    const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
    box.append(el("h4", {text: `Dissatisfaction detector on ${detector.messages} held-out labels`}),
               table(["label", "messages", "candidate", "live"],
                     Object.entries(detector.per_label).map(([label, r]) =>
                       [label.replace("_", " "), String(r.messages), fmt(r.candidate), fmt(r.live)])));
  }
  for (const key of ["validate", "stories"]) if (report[key]) box.append(el("p", {cls: "hint", text: report[key]}));
}

async function refreshReleases() {
  const data = await api("GET", "/api/training/releases");
  modelsView(data.models);
  $("runs").replaceChildren(...data.runs.map((run) => {
    const label = `${run.id}: ${run.state}${run.requested_by ? ` (${run.requested_by})` : ""}`;
    const button = el("button", {text: label, cls: "link", attrs: {type: "button", "aria-label": `Show release ${label}`}});
    button.addEventListener("click", () => releaseView(run));
    return el("li", {}, [button]);
  }));
  return data;
}

async function follow(runId) {
  const run = await api("GET", `/api/training/releases/${runId}`);
  releaseView(run);
  if (run.state === "running") {
    setTimeout(() => follow(runId).catch((error) => setStatus(error.message, true)), RELEASE_POLL_MS);
  } else {
    $("start-release").disabled = false;
    await refreshReleases();
  }
}

$("start-release").addEventListener("click", async () => {
  $("start-release").disabled = true;
  try {
    const run = await api("POST", "/api/training/releases");
    await follow(run.id);
  } catch (error) {
    setStatus(error.message, true);
    $("start-release").disabled = false;
  }
});

$("rollback").addEventListener("click", async () => {
  if (!window.confirm("Load the model that was live before the last release? Customers' messages wait a few seconds.")) {
    return;
  }
  try {
    const done = await api("POST", "/api/training/rollback");
    setStatus(`Rolled back: ${done.live.split("/").pop()} is live again (${done.seconds} s).`);
    await refreshReleases();
  } catch (error) {
    setStatus(error.message, true);
  }
});

$("refresh-inbox").addEventListener("click", () => refreshInbox().catch((e) => setStatus(e.message, true)));

setUpSignIn("trainer", async () => {
  await loadChoices();
  await refreshInbox();
  const data = await refreshReleases();
  const running = data.runs.find((run) => run.state === "running");
  if (running) { $("start-release").disabled = true; follow(running.id); }
});
