// 智能客服: send questions without reloading the page, and fetch staff replies by polling.
// Without this script the chat works as plain forms (each question a POST, the page shown again).
(function () {
  "use strict";
  var POLL_MS = 4000;

  function turnElement(turn) {
    var item = document.createElement("li");
    item.className = "turn turn-" + turn.sender;
    item.id = "turn-" + turn.id;
    var who = document.createElement("p");
    who.className = "turn-who";
    who.textContent = { citizen: "咨询人", assistant: "智能客服", staff: "人工客服", system: "系统" }[turn.sender] || "";
    var text = document.createElement("div");
    text.className = "turn-text";
    turn.text.split("\n").forEach(function (line, index) {
      if (index) { text.appendChild(document.createElement("br")); }
      text.appendChild(document.createTextNode(line));
    });
    item.appendChild(who);
    item.appendChild(text);
    if (turn.sources && turn.sources.length) {
      var sources = document.createElement("p");
      sources.className = "turn-sources";
      sources.appendChild(document.createTextNode("来源："));
      turn.sources.forEach(function (source, index) {
        if (index) { sources.appendChild(document.createTextNode("、")); }
        var link = document.createElement("a");
        link.href = source.url;
        link.textContent = source.name;
        sources.appendChild(link);
      });
      item.appendChild(sources);
    }
    return item;
  }

  function append(chat, turns) {
    var list = document.getElementById("turns");
    turns.forEach(function (turn) {
      if (!document.getElementById("turn-" + turn.id)) { list.appendChild(turnElement(turn)); }
      chat.dataset.last = String(Math.max(Number(chat.dataset.last || 0), turn.id));
    });
  }

  function poll(chat) {
    var reference = chat.dataset.conversation;
    if (!reference) { return; }
    fetch("/api/v1/assistant/conversations/" + encodeURIComponent(reference) + "?after=" + (chat.dataset.last || 0),
      { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        append(chat, data.turns);
        var status = document.getElementById("staff-status");
        if (status && data.status === "live") { status.textContent = "人工客服已接入，回复会显示在上方。"; }
        if (data.status !== "closed") { window.setTimeout(function () { poll(chat); }, POLL_MS); }
      })
      .catch(function () { window.setTimeout(function () { poll(chat); }, POLL_MS * 2); });
  }

  function enhanceForm(chat, form) {
    form.addEventListener("submit", function (event) {
      // The first question of a conversation and questions with a choice keep the plain form (a new page).
      if (!chat.dataset.conversation || !window.fetch) { return; }
      event.preventDefault();
      var data = new FormData(form);
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
        .then(function (result) {
          if (!result[0]) { window.alert(result[1].detail || "发送失败"); return; }
          if (result[1].turns.some(function (t) { return t.choices && t.choices.length; })) {
            window.location.href = "/assistant/c/" + result[1].conversation + "/#latest";
            return;
          }
          append(chat, result[1].turns);
          form.reset();
        })
        .catch(function () { form.submit(); })
        .finally(function () { if (button) { button.disabled = false; } });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var chat = document.querySelector(".chat[data-conversation]");
    if (!chat) { return; }
    var form = document.getElementById("ask-form");
    if (form) { enhanceForm(chat, form); }
    if (!chat.dataset.desk && (chat.dataset.status === "waiting" || chat.dataset.status === "live")) {
      window.setTimeout(function () { poll(chat); }, POLL_MS);
    }
  });
})();
