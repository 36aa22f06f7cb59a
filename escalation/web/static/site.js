// The website demo page: picks who the visitor is (a demo persona or anonymous), gets that persona's
// signed token from the server (on a real site, the company's own backend mints it for the signed-in
// customer) and starts the rasa-webchat widget with it. The token goes in the socket URL: Rasa's
// channel binds the conversation to that customer when the socket connects.
"use strict";

const PERSONA_KEY = "demo_persona";

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function showError(text) {
  const box = document.getElementById("chat-error");
  box.textContent = text;
  box.hidden = false;
}

function fillPersonas(select, personas, chosen) {
  const anonymous = new Option("Anonymous visitor (not signed in)", "");
  select.add(anonymous);
  for (const [id, description] of Object.entries(personas)) {
    select.add(new Option(`${id}: ${description}`, id));
  }
  select.value = chosen;
}

async function start() {
  const config = await (await fetch("/demo/config")).json();
  const select = document.getElementById("persona");
  const chosen = sessionStorage.getItem(PERSONA_KEY) || "";
  if (config.demo) {
    fillPersonas(select, config.personas, chosen in config.personas ? chosen : "");
    select.addEventListener("change", () => {
      // Another customer: a new conversation, so forget the widget's session and reload.
      sessionStorage.setItem(PERSONA_KEY, select.value);
      sessionStorage.removeItem("chat_session");
      location.reload();
    });
  } else {
    document.querySelector(".demo-bar").hidden = true;
  }
  const persona = config.demo && chosen in config.personas ? chosen : null;
  const {token} = persona ? await postJson("/demo/token", {persona}) : {token: null};
  const socketUrl = config.socket_url + (token ? `?customer_token=${encodeURIComponent(token)}` : "");
  if (typeof window.WebChat === "undefined") {
    showError("The chat widget could not be loaded. If you run this demo, run `make setup`.");
    return;
  }
  window.WebChat.default({
    socketUrl,
    socketPath: "/socket.io/",
    customData: {language: "en"},
    initPayload: "/greet",
    title: "Larkspur Help",
    subtitle: persona ? `Signed in as ${persona}` : "Ask us anything",
    inputTextFieldHint: "Type your question…",
    params: {storage: "session"},
    customMessageDelay: () => 0,
    hideWhenNotConnected: false,
    showMessageDate: true,
  }, null);
}

// rasa-webchat's icon buttons have no text: name them for screen readers, whenever the widget renders them.
const WIDGET_BUTTON_NAMES = [
  [".rw-launcher", () => (document.querySelector(".rw-conversation-container") ? "Close the chat" : "Open the chat")],
  [".rw-send", () => "Send the message"],
  [".rw-close-button", () => "Close the chat"],
];

function nameWidgetButtons() {
  for (const [selector, name] of WIDGET_BUTTON_NAMES) {
    for (const button of document.querySelectorAll(selector)) {
      if (button.getAttribute("aria-label") !== name()) button.setAttribute("aria-label", name());
    }
  }
}

new MutationObserver(nameWidgetButtons).observe(document.body, {childList: true, subtree: true});

start().catch((error) => showError(`The chat could not start: ${error.message}`));
