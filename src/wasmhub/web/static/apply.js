// The Apply page (templates/apply.html). Without this file every target input is shown
// and the server reads only those of the chosen platform; with it, the inputs the chosen
// platform does not read are hidden and disabled (so they are not posted either).
(function () {
  "use strict";
  function init() {
    var form = document.querySelector("form[data-apply-form]");
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    var byPlatform = JSON.parse(form.dataset.targetFields || "{}");
    var all = {};
    Object.keys(byPlatform).forEach(function (p) {
      byPlatform[p].forEach(function (name) { all[name] = true; });
    });
    var platform = form.querySelector("#apply-platform");
    function update() {
      var wanted = byPlatform[platform.value] || [];
      Object.keys(all).forEach(function (name) {
        var box = form.querySelector('[data-apply-field="' + name + '"]');
        if (!box) return;
        var shown = wanted.indexOf(name) >= 0;
        box.hidden = !shown;
        box.querySelectorAll("input, textarea, select").forEach(function (input) {
          input.disabled = !shown;
        });
      });
    }
    platform.addEventListener("change", update);
    update();
  }
  document.addEventListener("DOMContentLoaded", init);
})();
