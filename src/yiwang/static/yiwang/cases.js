/* 示范市一网通办 — application page enhancements. Every page works without this file:
 * without it, "按所选情形更新" re-renders the form and "保存草稿" keeps what was typed. */
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
    var draft = document.querySelector("form[data-draft-form]");
    if (!draft || typeof window.fetch !== "function") {
      return;
    }
    var dirty = false;
    draft.addEventListener("input", function () {
      dirty = true;
    });

    // Choosing a situation changes which fields and materials apply: save and show them at once.
    // The page says so beside the questions, so the reload is expected (WCAG 3.2.2).
    var refresh = draft.querySelector("button[data-refresh]");
    if (refresh && typeof draft.requestSubmit === "function") {
      draft.querySelectorAll("input[type=radio][data-situation]").forEach(function (radio) {
        radio.addEventListener("change", function () {
          var focus = draft.querySelector("input[name=focus]");
          if (focus) {
            focus.value = radio.id;
          }
          draft.requestSubmit(refresh);
        });
      });
    }

    // Uploading a file or submitting leaves the page: save what was typed first, so nothing is lost.
    document.querySelectorAll("form[data-keeps-draft]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!dirty) {
          return;
        }
        event.preventDefault();
        var data = new FormData(draft);
        data.set("action", "refresh");
        window
          .fetch(draft.action, { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
          .then(function () {
            dirty = false;
            form.submit();
          })
          .catch(function () {
            form.submit();
          });
      });
    });

    // Coming back from a refresh: put the keyboard focus where the person was.
    if (window.location.hash) {
      var target = document.getElementById(window.location.hash.slice(1));
      if (target && typeof target.focus === "function") {
        target.focus();
      }
    }
  });
})();
