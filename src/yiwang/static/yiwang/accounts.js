/* 示范市一网通办 — identity pages, progressive enhancement only.
   A 发送验证码 button carrying data-resend-wait="N" was just used: the server refuses another code for N
   seconds, so the button stays disabled and a countdown says how long. Without this file the button stays
   usable and the server answers an early press with a message. */
(function () {
  "use strict";

  function startCountdown(button) {
    var remaining = parseInt(button.getAttribute("data-resend-wait"), 10);
    if (!(remaining > 0)) {
      return;
    }
    var label = button.getAttribute("data-resend-label") || "";
    var note = document.createElement("span");
    note.className = "resend-countdown hint";
    note.setAttribute("aria-live", "polite");
    button.insertAdjacentElement("afterend", note);
    button.disabled = true;

    function tick() {
      if (remaining <= 0) {
        button.disabled = false;
        note.textContent = "";
        return;
      }
      note.textContent = remaining + " " + label;
      remaining -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function ready(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  ready(function () {
    document.querySelectorAll("button[data-resend-wait]").forEach(startCountdown);
  });
})();
