/* 示范市一网通办 — progressive enhancement only; every page works without this file. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  ready(function () {
    // Print buttons are hidden in the HTML and shown only when they can work;
    // the "press Ctrl+P" hint shown without scripts then makes way for them.
    if (typeof window.print === "function") {
      document.querySelectorAll("[data-print-hint]").forEach(function (hint) {
        hint.hidden = true;
      });
      document.querySelectorAll("[data-print]").forEach(function (button) {
        button.hidden = false;
        button.addEventListener("click", function () {
          window.print();
        });
      });
    }
  });
})();
