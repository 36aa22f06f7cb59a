// The analytics page for team leads and trainers: headline numbers against the previous period, charts, the
// segment x metric table with a drill-down from every number to its conversations and their transcripts, CSV
// exports, the top misunderstood messages, and the what-if replay of candidate rules.
// API client, sign-in and el() (text only, never HTML) are in common.js; Chart is chart.js (npm, same origin).
"use strict";

const DAY_MS = 24 * 60 * 60 * 1000;
const BRAND = "#6b4fbb";
const AMBER = "#b26a00";
const SLICES = {none: "total", tier: "tier", journey_stage: "journey stage", queue: "queue",
                satisfaction: "satisfaction history", channel: "channel", day: "day", hour: "hour of day"};

// The table's columns and what each number drills down to (the API's metric). `better` says which way is an
// improvement (+1 up, -1 down, 0 neither), for the headline's change.
const METRICS = [
  {key: "conversations", label: "Conversations", kind: "count", drill: "conversations", better: 0},
  {key: "contained", label: "Contained", kind: "count", drill: "contained", better: 1},
  {key: "containment_rate", label: "Containment rate", kind: "rate", drill: "contained", better: 1},
  {key: "handoffs", label: "Handoffs", kind: "count", drill: "handoffs", better: 0},
  {key: "handoff_rate", label: "Handoff rate", kind: "rate", drill: "handoffs", better: 0},
  {key: "first_response_p50_s", label: "First response p50", kind: "duration", drill: "handoffs", better: -1,
   business: "first_response_p50_business_s"},
  {key: "first_response_p90_s", label: "First response p90", kind: "duration", drill: "handoffs", better: -1,
   business: "first_response_p90_business_s"},
  {key: "resolution_p50_s", label: "Resolution p50", kind: "duration", drill: "handoffs", better: -1,
   business: "resolution_p50_business_s"},
  {key: "resolution_p90_s", label: "Resolution p90", kind: "duration", drill: "handoffs", better: -1,
   business: "resolution_p90_business_s"},
  {key: "sla_attainment.first_response", label: "SLA first response", kind: "rate",
   drill: "first_response_sla_missed", better: 1, headline: "SLA attainment (first response)"},
  {key: "sla_attainment.next_response", label: "SLA next response", kind: "rate",
   drill: "next_response_sla_missed", better: 1},
  {key: "sla_attainment.resolution", label: "SLA resolution", kind: "rate", drill: "resolution_sla_missed", better: 1},
  {key: "abandoned", label: "Abandoned", kind: "count", drill: "abandoned", better: -1},
  {key: "abandonment_rate", label: "Abandonment rate", kind: "rate", drill: "abandoned", better: -1},
  {key: "csat_responses", label: "CSAT responses", kind: "count", drill: "csat_responses", better: 1},
  {key: "csat_response_rate", label: "CSAT response rate", kind: "rate", drill: "csat_responses", better: 1},
  {key: "csat_positive_rate", label: "CSAT positive (4-5)", kind: "rate", drill: "csat_positive", better: 1},
  {key: "fallback_rate", label: "NLU fallback rate", kind: "rate", drill: "fallbacks", better: -1},
];
const METRIC = Object.fromEntries(METRICS.map((m) => [m.key, m]));
const HEADLINE = ["conversations", "containment_rate", "handoff_rate", "first_response_p50_s", "first_response_p90_s",
                  "sla_attainment.first_response", "abandonment_rate", "csat_positive_rate"];
const BAR_METRICS = HEADLINE;  // the bar chart offers the headline's metrics per group
const DRILL_LABELS = {
  conversations: "Conversations", contained: "Contained by the bot", handoffs: "Handed to a person",
  abandoned: "Abandoned while waiting", csat_responses: "CSAT responses", csat_positive: "Positive CSAT (4-5)",
  first_response_sla_missed: "First response SLA missed", next_response_sla_missed: "Next response SLA missed",
  resolution_sla_missed: "Resolution SLA missed", fallbacks: "With NLU fallbacks",
};

// `loads` numbers the page's loads: a slower earlier answer never overwrites a later one.
const state = {params: null, summary: null, drill: null, liveRules: "", loads: 0, charts: {bar: null, line: null}};

// --- formatting ------------------------------------------------------------------------------------------
function valueOf(row, key) {
  return key.split(".").reduce((obj, part) => (obj === null || obj === undefined ? null : obj[part]), row);
}

function duration(seconds) {
  const oneDecimal = (x) => x.toFixed(1).replace(/\.0$/, "");
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${oneDecimal(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${oneDecimal(seconds / 3600)} h`;
  return `${oneDecimal(seconds / 86400)} d`;
}

function formatted(kind, value) {
  if (kind === "rate") return `${(value * 100).toFixed(1)}%`;
  if (kind === "duration") return duration(value);
  return Number(value).toLocaleString("en");
}

// A figure with no data (a rate over nothing): a dash, "no data" on hover and for screen readers.
function noData() {
  return el("span", {cls: "no-data", attrs: {title: "no data"}}, [
    el("span", {text: "–", attrs: {"aria-hidden": "true"}}), el("span", {cls: "visually-hidden", text: "no data"})]);
}

function words(code) { return String(code).replace(/_/g, " "); }

// A group's key as a person reads it: "at risk", "09:00" for an hour of the day, "All" for the total.
function keyLabel(key, by = state.params && state.params.by) {
  if (key === "total") return "All";
  if (by === "hour") return `${String(key).padStart(2, "0")}:00`;
  return words(key);
}

// Dates are the API's YYYY-MM-DD days; arithmetic in UTC so no daylight-saving shift moves a day.
function parseDay(text) { const [y, m, d] = text.split("-").map(Number); return Date.UTC(y, m - 1, d); }
function formatDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
function dayCount(from, to) { return Math.round((parseDay(to) - parseDay(from)) / DAY_MS) + 1; }

function query(params) {
  return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();
}

// --- requests that api() (JSON, errors as messages) does not cover ---------------------------------------
// fetch() with the session's token: for the CSV files (a Blob, saved through a download link, because the
// API wants the Authorization header and a plain link cannot send it) and for the what-if, whose 400 lists
// every problem of the candidate rules.
async function authorizedFetch(method, path, body) {
  const headers = {"Authorization": `Bearer ${session.token}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (response.status === 401) {
    signOut("Your session ended; please sign in again.");
    throw new ApiError(401, "signed out");
  }
  return response;
}

async function saveCsv(path, fallbackName) {
  const response = await authorizedFetch("GET", path);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", {attrs: {href: url, download: named ? named[1] : fallbackName}});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);  // once the browser has taken the download
}

// --- the period and the slice ------------------------------------------------------------------------------
function readFilters() {
  const from = $("from").value, to = $("to").value, by = $("by").value;
  if (!from || !to) throw new Error("Choose both dates of the period.");
  if (from > to) throw new Error("The period's first day is after its last day.");
  return {from, to, by};
}

function showPeriod(params) {
  const days = dayCount(params.from, params.to);
  const previousTo = formatDay(parseDay(params.from) - DAY_MS);
  const previousFrom = formatDay(parseDay(params.from) - days * DAY_MS);
  $("period").textContent = `${params.from} to ${params.to} (${days} day${days === 1 ? "" : "s"}), compared with `
    + `${previousFrom} to ${previousTo}.`;
  history.replaceState(null, "", `/analytics?${query(params)}`);
}

async function load() {
  let params;
  try { params = readFilters(); } catch (error) { setStatus(error.message, true); return; }
  const ticket = ++state.loads;
  setStatus("Loading…");
  const [summary, daily, misunderstood] = await Promise.all([
    api("GET", `/api/analytics/summary?${query(params)}`),
    params.by === "day" ? null : api("GET", `/api/analytics/summary?${query({...params, by: "day"})}`),
    api("GET", `/api/analytics/misunderstood?${query({from: params.from, to: params.to, limit: 20})}`),
  ]);
  if (ticket !== state.loads) return;
  state.params = params;
  state.summary = summary;
  showPeriod(params);
  showHeadline(summary);
  showTable(summary);
  showBarChart();
  showLineChart(daily || summary);
  showMisunderstood(misunderstood.messages);
  // An open drill-down follows the new period; it closes when its group is not in the new slice.
  const drilled = state.drill;
  if (drilled && (drilled.key === "total" || summary.groups.some((g) => String(g.key) === String(drilled.key)))) {
    await drill(drilled.key, drilled.metric, drilled.title, false);
  } else {
    closeDrill();
  }
  setStatus(`Updated ${new Date().toLocaleTimeString()}.`);
}

// --- headline numbers --------------------------------------------------------------------------------------
function change(metric, now, before) {
  if (now === null || now === undefined || before === null || before === undefined) {
    return {text: "no data to compare", cls: "flat"};
  }
  let text, size;
  const delta = now - before;
  if (metric.kind === "rate") size = `${Math.abs(delta * 100).toFixed(1)} pts`;
  else if (metric.kind === "duration") size = duration(Math.abs(delta));
  else if (before === 0) size = now.toLocaleString("en");
  else size = `${Math.abs((delta / before) * 100).toFixed(0)}%`;
  // A change too small to show is no change: "±0", neither better nor worse.
  const shownZero = /^0(\.0)?( |%|$)/.test(size);
  if (delta === 0 || shownZero) text = `±${size}`;
  else text = `${delta > 0 ? "+" : "−"}${size}`;
  const direction = shownZero ? 0 : Math.sign(delta) * metric.better;
  return {text: `${text} (was ${formatted(metric.kind, before)})`, cls: direction > 0 ? "better" : direction < 0 ? "worse" : "flat"};
}

function figure(metric, row, key) {
  const value = valueOf(row, metric.key);
  if (value === null || value === undefined) return noData();
  const text = formatted(metric.kind, value);
  const where = key === "total" ? "in total" : `for ${keyLabel(key)}`;
  const button = el("button", {text, cls: `figure ${metric.kind}`, attrs: {
    type: "button", "aria-label": `${metric.label} ${where}: ${text}. Show the conversations behind it.`}});
  if (metric.business) {
    const business = row[metric.business];
    button.title = business === null || business === undefined ? "business hours: no data"
      : `in business hours: ${duration(business)}`;
  }
  button.addEventListener("click", () => drill(key, metric.drill, `${metric.label} · ${keyLabel(key)}`));
  return button;
}

function showHeadline(summary) {
  $("headline").replaceChildren(...HEADLINE.map((key) => {
    const metric = METRIC[key];
    const delta = change(metric, valueOf(summary.total, key), summary.previous ? valueOf(summary.previous, key) : null);
    return el("li", {cls: "card", attrs: {"data-metric": key}}, [
      el("span", {cls: "card-label", text: metric.headline || metric.label}),
      el("span", {cls: "card-value"}, [figure(metric, summary.total, "total")]),
      el("span", {cls: `card-change ${delta.cls}`, text: delta.text}),
    ]);
  }));
}

// --- the segment x metric table ----------------------------------------------------------------------------
function reasonButtons(row, key) {
  const reasons = Object.entries(row.handoff_reasons || {}).sort((a, b) => b[1] - a[1]);
  if (!reasons.length) return [el("span", {cls: "hint", text: "none"})];
  return reasons.map(([code, count]) => {
    const text = `${words(code)} ${count}`;
    const button = el("button", {text, cls: "figure reason", attrs: {
      type: "button", "data-reason": code,
      "aria-label": `${text}: handoffs for this reason, ${keyLabel(key)}. Show the conversations.`}});
    button.addEventListener("click", () => drill(key, `reason:${code}`, `Handoff reason ${code} · ${keyLabel(key)}`));
    return button;
  });
}

function showTable(summary) {
  const slice = SLICES[summary.by] || summary.by;
  const head = el("tr", {}, [el("th", {text: slice, attrs: {scope: "col"}}),
                             ...METRICS.map((m) => el("th", {text: m.label, attrs: {scope: "col"}})),
                             el("th", {text: "Handoff reasons", attrs: {scope: "col"}})]);
  const rows = [...summary.groups, summary.total].map((row) => el("tr", {
    cls: row.key === "total" ? "total" : "", attrs: {"data-key": String(row.key)}}, [
    el("th", {text: keyLabel(row.key, summary.by), attrs: {scope: "row"}}),
    ...METRICS.map((m) => el("td", {attrs: {"data-metric": m.key}}, [figure(m, row, row.key)])),
    el("td", {cls: "reasons-cell"}, reasonButtons(row, row.key)),
  ]));
  $("segments").replaceChildren(el("thead", {}, [head]), el("tbody", {}, rows));
}

// --- charts ------------------------------------------------------------------------------------------------
function chartValue(metric, value) {
  if (value === null || value === undefined) return null;
  if (metric.kind === "rate") return Math.round(value * 1000) / 10;
  if (metric.kind === "duration") return Math.round(value);
  return value;
}

function axisTitle(metric) {
  return metric.kind === "rate" ? `${metric.label} (%)` : metric.kind === "duration" ? `${metric.label} (s)` : metric.label;
}

function showBarChart() {
  const summary = state.summary;
  const metric = METRIC[$("bar-metric").value];
  const rows = summary.groups.length ? summary.groups : [summary.total];
  $("bar-slice").textContent = SLICES[summary.by];
  const data = {labels: rows.map((row) => keyLabel(row.key)),
                datasets: [{label: axisTitle(metric), data: rows.map((row) => chartValue(metric, valueOf(row, metric.key))),
                            backgroundColor: BRAND}]};
  $("bar-chart").setAttribute("aria-label", `Bar chart: ${metric.label} by ${SLICES[summary.by]}. `
    + rows.map((row) => {
      const value = valueOf(row, metric.key);
      return `${keyLabel(row.key)}: ${value === null || value === undefined ? "no data" : formatted(metric.kind, value)}`;
    }).join("; "));
  if (state.charts.bar) state.charts.bar.destroy();
  state.charts.bar = new Chart($("bar-chart"), {
    type: "bar",
    data,
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: {legend: {display: false}},
      scales: {y: {beginAtZero: true, title: {display: true, text: axisTitle(metric)},
                   max: metric.kind === "rate" ? 100 : undefined, ticks: {precision: 0}}},
      onClick: (_, elements) => {
        if (!elements.length) return;
        const row = rows[elements[0].index];
        drill(row.key, metric.drill, `${metric.label} · ${keyLabel(row.key)}`);
      },
    },
  });
}

function showLineChart(daily) {
  const days = daily.groups;
  $("line-chart").setAttribute("aria-label", "Line chart of conversations and handoffs per day. "
    + days.map((day) => `${day.key}: ${day.conversations} conversations, ${day.handoffs} handoffs`).join("; "));
  if (state.charts.line) state.charts.line.destroy();
  state.charts.line = new Chart($("line-chart"), {
    type: "line",
    data: {
      labels: days.map((day) => String(day.key)),
      datasets: [
        {label: "Conversations", data: days.map((day) => day.conversations), borderColor: BRAND, backgroundColor: BRAND},
        {label: "Handoffs", data: days.map((day) => day.handoffs), borderColor: AMBER, backgroundColor: AMBER},
      ],
    },
    options: {animation: false, responsive: true, maintainAspectRatio: false,
              scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });
}

// --- drill-down: the conversations behind a number, and one conversation --------------------------------------
function slaMark(met) {
  if (met === null || met === undefined) return "–";
  return met ? "met" : "missed";
}

function closeDrill() {
  state.drill = null;
  $("drill").hidden = true;
}

function drillParams(key, metric) {
  return {...state.params, key: String(key), metric};
}

async function drill(key, metric, title, focus = true) {
  const params = drillParams(key, metric);
  const data = await api("GET", `/api/analytics/conversations?${query(params)}`);
  state.drill = {key, metric, title};
  const what = metric.startsWith("reason:") ? `handed over for ${metric.slice(7)}` : DRILL_LABELS[metric] || metric;
  $("drill-title").textContent = `Conversations: ${title}`;
  $("drill-count").textContent = `${data.count} conversation${data.count === 1 ? "" : "s"} (${what}, `
    + `${keyLabel(key)}, ${state.params.from} to ${state.params.to}).`;
  const head = el("tr", {}, ["Conversation", "Started", "Tier", "Journey stage", "Queue", "Satisfaction", "Channel",
                             "Contained", "Handoff reasons", "First response", "Resolution", "SLA first / next / resolution",
                             "Abandoned", "CSAT"].map((h) => el("th", {text: h, attrs: {scope: "col"}})));
  const rows = data.conversations.map((c) => {
    const open = el("button", {text: c.conversation_id, cls: "link conversation-link", attrs: {
      type: "button", "aria-label": `Open conversation ${c.conversation_id}`}});
    open.addEventListener("click", () => openConversation(c.conversation_id).catch((e) => setStatus(e.message, true)));
    const cells = [
      new Date(c.started_at).toLocaleString("en-GB"), c.tier, words(c.journey_stage || "–"), c.queue || "–",
      words(c.satisfaction || "–"), c.channel, c.contained ? "yes" : "no",
      (c.handoff_reasons || []).join(", ") || "–",
      c.first_response_s === null ? "–" : duration(c.first_response_s),
      c.resolution_s === null ? "–" : duration(c.resolution_s),
      ["first_response", "next_response", "resolution"].map((clock) => slaMark(c.sla && c.sla[clock])).join(" / "),
      c.abandoned ? "yes" : "no", c.csat === null || c.csat === undefined ? "–" : String(c.csat),
    ];
    return el("tr", {attrs: {"data-conversation": c.conversation_id}}, [
      el("th", {attrs: {scope: "row"}}, [open, c.seeded ? el("span", {cls: "badge", text: "seeded"}) : ""]),
      ...cells.map((text) => el("td", {text}))]);
  });
  $("drill-list").replaceChildren(el("thead", {}, [head]), el("tbody", {}, rows));
  $("drill").hidden = false;
  if (focus) {
    $("drill").scrollIntoView({block: "start"});
    $("drill-title").focus();
  }
}

function factsList(facts) {
  const shown = [
    ["Started", new Date(facts.started_at).toLocaleString("en-GB")], ["Tier", facts.tier],
    ["Journey stage", words(facts.journey_stage || "–")], ["Satisfaction", words(facts.satisfaction || "–")],
    ["Channel", facts.channel], ["Queue", facts.queue || "–"], ["Contained by the bot", facts.contained ? "yes" : "no"],
    ["Handoff", facts.handoff_id === null || facts.handoff_id === undefined ? "–" : String(facts.handoff_id)],
    ["Handoff reasons", (facts.handoff_reasons || []).join(", ") || "–"],
    ["First response", facts.first_response_s === null ? "–" : duration(facts.first_response_s)],
    ["Resolution", facts.resolution_s === null ? "–" : duration(facts.resolution_s)],
    ["SLA first response", slaMark(facts.sla && facts.sla.first_response)],
    ["SLA next response", slaMark(facts.sla && facts.sla.next_response)],
    ["SLA resolution", slaMark(facts.sla && facts.sla.resolution)],
    ["Abandoned", facts.abandoned ? "yes" : "no"],
    ["CSAT", facts.csat === null || facts.csat === undefined ? "–" : String(facts.csat)],
    ["Seeded demo data", facts.seeded ? "yes" : "no"],
  ];
  return shown.flatMap(([term, value]) => [el("dt", {text: term}), el("dd", {text: value})]);
}

async function openConversation(id) {
  const data = await api("GET", `/api/analytics/conversations/${encodeURIComponent(id)}`);
  $("conversation-title").textContent = `Conversation ${data.conversation_id}`;
  $("facts").replaceChildren(...factsList(data.facts));
  $("transcript").replaceChildren(...data.transcript.map((line) => el("li", {cls: `msg from-${line.who}`}, [
    el("div", {cls: "meta", text: `${line.who} · ${new Date(line.at).toLocaleString("en-GB")}`}),
    el("div", {text: line.text}),
  ])));
  if (!data.transcript.length) $("transcript").append(el("li", {cls: "hint", text: "No messages recorded."}));
  $("conversation").hidden = false;
  $("conversation").scrollIntoView({block: "start"});
  $("conversation-title").focus();
}

// --- misunderstood messages --------------------------------------------------------------------------------
function showMisunderstood(messages) {
  if (!messages.length) {
    $("misunderstood").replaceChildren(el("p", {cls: "hint", text: "None in this period."}));
    return;
  }
  $("misunderstood").replaceChildren(el("table", {cls: "report misunderstood"}, [
    el("thead", {}, [el("tr", {}, ["Message", "Times", "Bot's best guess", "Confidence"].map((h) =>
      el("th", {text: h, attrs: {scope: "col"}})))]),
    el("tbody", {}, messages.map((m) => el("tr", {}, [
      el("td", {text: m.text}), el("td", {text: String(m.count)}), el("td", {text: m.intent || "–"}),
      el("td", {text: m.confidence === null || m.confidence === undefined ? "–" : Number(m.confidence).toFixed(2)}),
    ]))),
  ]));
}

// --- what-if -------------------------------------------------------------------------------------------------
function decisionText(decision) {
  if (!decision) return "–";
  const parts = [decision.action];
  if (decision.queue) parts.push(`to ${decision.queue}`);
  if (decision.priority !== null && decision.priority !== undefined) parts.push(`priority ${decision.priority}`);
  if (decision.sla_minutes !== null && decision.sla_minutes !== undefined) parts.push(`SLA ${duration(decision.sla_minutes * 60)}`);
  return parts.join(", ");
}

function comparisonRows(current, candidate) {
  const rows = [["Handoffs", current.handoffs, candidate.handoffs, "count"],
                ["Offered a callback or ticket", current.offers, candidate.offers, "count"],
                ["Stayed with the bot", current.stays, candidate.stays, "count"]];
  const union = (field) => [...new Set([...Object.keys(current[field] || {}), ...Object.keys(candidate[field] || {})])];
  for (const queue of union("by_queue")) {
    rows.push([`Handoffs to ${queue}`, current.by_queue[queue] || 0, candidate.by_queue[queue] || 0, "count"]);
  }
  for (const tier of union("by_tier")) {
    rows.push([`Handoffs of ${tier} customers`, current.by_tier[tier] || 0, candidate.by_tier[tier] || 0, "count"]);
  }
  for (const tier of union("sla_attainment_expected")) {
    const now = current.sla_attainment_expected[tier], then = candidate.sla_attainment_expected[tier];
    rows.push([`Expected SLA attainment, ${tier}`, now ?? null, then ?? null, "rate"]);
  }
  return rows;
}

function cell(kind, value) {
  return value === null || value === undefined ? el("td", {}, [noData()]) : el("td", {text: formatted(kind, value)});
}

function deltaCell(kind, now, then) {
  if (now === null || now === undefined || then === null || then === undefined) return el("td", {}, [noData()]);
  const delta = then - now;
  const text = kind === "rate" ? `${delta >= 0 ? "+" : "−"}${Math.abs(delta * 100).toFixed(1)} pts`
    : `${delta > 0 ? "+" : delta < 0 ? "−" : "±"}${Math.abs(delta)}`;
  return el("td", {text, cls: delta === 0 ? "" : "changed"});
}

function showWhatIf(result) {
  const rows = comparisonRows(result.current, result.candidate);
  const changedCount = result.changed_count ?? result.changed.length;
  const changed = result.changed.map((c) => {
    const open = el("button", {text: c.conversation_id, cls: "link conversation-link", attrs: {
      type: "button", "aria-label": `Open conversation ${c.conversation_id}`}});
    open.addEventListener("click", () => openConversation(c.conversation_id).catch((e) => setStatus(e.message, true)));
    return el("tr", {attrs: {"data-conversation": c.conversation_id}}, [
      el("th", {attrs: {scope: "row"}}, [open]), el("td", {text: c.tier}), el("td", {text: words(c.journey_stage || "–")}),
      el("td", {text: decisionText(c.current)}), el("td", {text: decisionText(c.candidate)})]);
  });
  $("whatif-result").replaceChildren(
    el("h3", {text: `Replayed ${result.conversations} conversations, ${result.from} to ${result.to}`}),
    el("table", {cls: "report whatif-compare"}, [
      el("thead", {}, [el("tr", {}, [
        el("th", {attrs: {scope: "col"}}, [el("span", {cls: "visually-hidden", text: "Figure"})]),
        ...["Today's rules", "Candidate", "Change"].map((h) => el("th", {text: h, attrs: {scope: "col"}}))])]),
      el("tbody", {}, rows.map(([label, now, then, kind]) => el("tr", {}, [
        el("th", {text: label, attrs: {scope: "row"}}), cell(kind, now), cell(kind, then), deltaCell(kind, now, then)]))),
    ]),
    el("h3", {text: `Conversations decided differently: ${changedCount}`}),
    changedCount > result.changed.length
      ? el("p", {cls: "hint", text: `The first ${result.changed.length} are listed.`}) : "",
    changed.length ? el("div", {cls: "table-scroll"}, [el("table", {cls: "report whatif-changed"}, [
      el("thead", {}, [el("tr", {}, ["Conversation", "Tier", "Journey stage", "Today's rules", "Candidate"].map((h) =>
        el("th", {text: h, attrs: {scope: "col"}})))]),
      el("tbody", {}, changed)])]) : el("p", {cls: "hint", text: "None: every conversation would be decided the same way."}),
  );
}

async function replay() {
  const days = Number($("whatif-days").value);
  $("whatif-problems").replaceChildren();
  $("replay").disabled = true;
  setStatus("Replaying…");
  try {
    const response = await authorizedFetch("POST", "/api/analytics/whatif", {rules_yaml: $("rules-yaml").value, days});
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      $("whatif-result").replaceChildren();
      const problems = (data && data.problems) || [];
      $("whatif-problems").replaceChildren(
        el("p", {cls: "error", text: (data && data.error) || response.statusText}),
        ...(problems.length ? [el("ul", {cls: "problems"}, problems.map((p) => el("li", {cls: "error", text: p})))] : []));
      setStatus("The candidate rules were not replayed.", true);
      return;
    }
    showWhatIf(data);
    setStatus(`Replayed ${data.conversations} conversations; nothing was saved.`);
  } finally {
    $("replay").disabled = false;
  }
}

// --- wiring ----------------------------------------------------------------------------------------------------
function failed(error) {
  if (error.status !== 401) setStatus(error.message, true);
}

function fillFiltersFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const name of ["from", "to", "by"]) if (params.get(name)) $(name).value = params.get(name);
}

async function start() {
  fillFiltersFromAddress();
  if (!$("from").value || !$("to").value) {
    // The default period (the last 7 days in the rules' timezone) is the service's.
    const defaults = await api("GET", `/api/analytics/summary?by=none`);
    $("from").value = defaults.from;
    $("to").value = defaults.to;
  }
  const [rules] = await Promise.all([api("GET", "/api/analytics/rules"), load()]);
  state.liveRules = rules.yaml;
  $("rules-yaml").value = rules.yaml;
}

$("bar-metric").replaceChildren(...BAR_METRICS.map((key) => el("option", {text: METRIC[key].label, attrs: {value: key}})));
$("by").value = "tier";
$("filters").addEventListener("submit", (event) => { event.preventDefault(); load().catch(failed); });
for (const id of ["from", "to", "by"]) $(id).addEventListener("change", () => load().catch(failed));
$("bar-metric").addEventListener("change", () => { if (state.summary) showBarChart(); });
$("export-table").addEventListener("click", () => {
  saveCsv(`/api/analytics/export.csv?${query(state.params)}`,
          `analytics-${state.params.from}-${state.params.to}-${state.params.by}.csv`).catch(failed);
});
$("export-drill").addEventListener("click", () => {
  const params = {...drillParams(state.drill.key, state.drill.metric), what: "conversations"};
  saveCsv(`/api/analytics/export.csv?${query(params)}`,
          `analytics-${state.params.from}-${state.params.to}-${state.params.by}-conversations.csv`).catch(failed);
});
$("close-drill").addEventListener("click", () => { closeDrill(); $("table-title").focus(); });
$("close-conversation").addEventListener("click", () => { $("conversation").hidden = true; });
$("whatif-form").addEventListener("submit", (event) => { event.preventDefault(); replay().catch(failed); });
$("reset-rules").addEventListener("click", () => { $("rules-yaml").value = state.liveRules; });

// Nothing of one person's session stays on the page for the next one who signs in here.
session.onSignOut = () => {
  closeDrill();
  $("conversation").hidden = true;
  $("whatif-result").replaceChildren();
  $("whatif-problems").replaceChildren();
};

// Leads own the page; trainers may use it too (common.js's setUpSignIn: the page's role, then the others allowed).
setUpSignIn("lead", () => start().catch(failed), {alsoFor: ["trainer"]});
