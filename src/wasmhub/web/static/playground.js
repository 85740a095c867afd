// The playground page: submit the form with fetch and swap in only the result, so the
// edited request and configuration stay as they are. Without this file the form posts
// and the whole page comes back with the result. No inline script or handlers (CSP).
(function () {
  "use strict";

  function errorText(html, fallback) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var heading = doc.querySelector(".error-page h1");
    var message = doc.querySelector(".error-page h1 + p");
    if (!heading) return fallback;
    return heading.textContent + (message ? ": " + message.textContent : "");
  }

  function show(output, html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var result = doc.querySelector("[data-playground-result]");
    output.replaceChildren();
    if (result) output.appendChild(document.importNode(result, true));
    return Boolean(result);
  }

  function alertBox(output, text) {
    var box = document.createElement("div");
    box.className = "alert alert-error";
    box.setAttribute("role", "alert");
    box.id = "pg-status";
    box.textContent = text;
    output.replaceChildren(box);
  }

  function init() {
    var form = document.querySelector("form[data-playground]");
    var output = document.getElementById("playground-output");
    if (!form || !output || !window.fetch) return;
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
      output.setAttribute("aria-busy", "true");
      var status = document.createElement("p");
      status.className = "hint";
      status.textContent = form.dataset.msgRunning || "…";
      output.replaceChildren(status);
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-Playground": "fragment" },
        credentials: "same-origin",
      }).then(function (response) {
        return response.text().then(function (html) {
          if (!show(output, html)) {
            alertBox(output, errorText(html, (form.dataset.msgFailed || "") + " " +
              response.status));
          }
        });
      }).catch(function () {
        alertBox(output, form.dataset.msgFailed || "The run failed.");
      }).finally(function () {
        if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
        output.removeAttribute("aria-busy");
        output.dataset.runs = String(Number(output.dataset.runs || "0") + 1);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
