// Shared by the agent console, the trainers' page and the analytics page: the API client, DOM helpers and sign-in.
// Text from customers is only ever set with textContent (el()), never parsed as HTML.
"use strict";

const TOKEN_KEY = "agent_token";
const session = {token: sessionStorage.getItem(TOKEN_KEY), person: null, onSignOut: () => {}};

const $ = (id) => document.getElementById(id);

function el(tag, {text, cls, attrs} = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = {"Authorization": `Bearer ${session.token}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401 && path !== "/api/sign-in") {
    signOut("Your session ended; please sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || response.statusText);
  return data;
}

function setStatus(text, isError = false) {
  const line = $("status-line");
  line.textContent = text;
  line.classList.toggle("error", isError);
}

function showSignIn(message) {
  $("sign-in").hidden = false;
  $("workspace").hidden = true;
  $("whoami").hidden = true;
  $("sign-in-error").textContent = message || "";
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = null;
  session.person = null;
  session.onSignOut();
  showSignIn(message);
}

// The "Sign out" button: the service revokes the token, then the page forgets it. Offline, the page
// forgets it anyway and says that the token stays valid until it expires.
async function endSession() {
  let message = "You are signed out.";
  if (session.token) {
    try {
      const response = await fetch("/api/sign-out", {method: "POST", headers: {"Authorization": `Bearer ${session.token}`}});
      if (!response.ok && response.status !== 401) throw new Error(response.statusText);
    } catch (_) {
      message = "Signed out on this page, but the service could not be reached: the session ends when it expires.";
    }
  }
  signOut(message);
  $("agent").focus();
}

// Signs in with the page's form; `role` is the role the page is for ("agent", "trainer" or "lead"), and
// `alsoFor` the other roles that may use it (the analytics page: leads, and trainers too).
function setUpSignIn(role, onSignedIn, {alsoFor = []} = {}) {
  const allowed = [role, ...alsoFor];
  async function enter() {
    const me = await api("GET", "/api/me");
    if (!allowed.includes(me.role)) {
      const article = me.role === "agent" ? "an" : "a";
      signOut(`This page is for ${allowed.map((r) => `${r}s`).join(" and ")}; ${me.display_name} signs in as ${article} ${me.role}.`);
      return;
    }
    session.person = me;
    $("agent-name").textContent = me.queues.length ? `${me.display_name} · ${me.queues.join(", ")}` : `${me.display_name} · ${me.role}`;
    $("whoami").hidden = false;
    $("sign-in").hidden = true;
    $("workspace").hidden = false;
    await onSignedIn(me);
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      const data = await api("POST", "/api/sign-in", {agent: $("agent").value, password: $("password").value});
      session.token = data.token;
      sessionStorage.setItem(TOKEN_KEY, data.token);
      $("password").value = "";
      await enter();
    } catch (error) {
      $("sign-in-error").textContent = error.message;
    }
  });
  $("sign-out").addEventListener("click", endSession);
  if (session.token) {
    enter().catch((error) => { if (error.status !== 401) showSignIn(error.message); });
  } else {
    showSignIn("");
  }
}
