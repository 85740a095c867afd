// wasmhub UI enhancements. Pages work without this file; it adds copy buttons and a live,
// client-side-validated pluginConfig preview to the config form (the server validates
// again with jsonschema when the form is submitted).
(function () {
  "use strict";

  function pointerKey(name) {
    // "cfg/a/b~1c" -> ["a", "b/c"]
    return name.split("/").slice(1).map(function (p) {
      return p.replace(/~1/g, "/").replace(/~0/g, "~");
    });
  }

  function setIn(target, path, value) {
    var node = target;
    for (var i = 0; i < path.length - 1; i++) {
      if (typeof node[path[i]] !== "object" || node[path[i]] === null) node[path[i]] = {};
      node = node[path[i]];
    }
    node[path[path.length - 1]] = value;
  }

  function msg(form, key) {
    return (form.dataset["msg" + key] || key);
  }

  function readField(form, el, errors) {
    var kind = el.dataset.kind;
    var text = el.type === "checkbox" ? (el.checked ? "true" : "false") : el.value;
    var required = el.hasAttribute("data-required");
    var problems = [];
    var value;
    if (kind === "boolean") {
      value = el.checked;
    } else if (kind === "enum") {
      value = text === "" ? undefined : JSON.parse(text);
    } else if (kind === "number" || kind === "integer") {
      if (text.trim() !== "") {
        value = Number(text);
        if (!isFinite(value)) problems.push(msg(form, "Number"));
        else if (kind === "integer" && !Number.isInteger(value)) problems.push(msg(form, "Integer"));
        else {
          if (el.dataset.minimum !== undefined && value < Number(el.dataset.minimum))
            problems.push(msg(form, "Minimum") + " " + el.dataset.minimum);
          if (el.dataset.maximum !== undefined && value > Number(el.dataset.maximum))
            problems.push(msg(form, "Maximum") + " " + el.dataset.maximum);
        }
      }
    } else if (kind === "list") {
      var items = text.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      if (el.dataset.itemKind === "integer" || el.dataset.itemKind === "number") {
        items = items.map(function (s) {
          var n = Number(s);
          if (!isFinite(n)) problems.push(msg(form, "Number") + ": " + s);
          return n;
        });
      }
      value = items.length ? items : undefined;
    } else if (kind === "json") {
      if (text.trim() !== "") {
        try { value = JSON.parse(text); } catch (e) { problems.push(msg(form, "Json")); }
      }
    } else {
      value = text === "" ? undefined : text;
      if (value !== undefined) {
        if (el.dataset.minLength && value.length < Number(el.dataset.minLength))
          problems.push(msg(form, "MinLength") + " " + el.dataset.minLength);
        if (el.dataset.pattern) {
          try {
            if (!new RegExp(el.dataset.pattern, "u").test(value)) problems.push(msg(form, "Pattern"));
          } catch (e) { /* a pattern JS cannot compile is checked on the server */ }
        }
      }
    }
    if (required && value === undefined && problems.length === 0) problems.push(msg(form, "Required"));
    if (problems.length) errors[el.name] = problems;
    return value;
  }

  function showErrors(form, errors) {
    form.querySelectorAll("[data-errors-for]").forEach(function (box) {
      var list = errors[box.dataset.errorsFor] || [];
      box.textContent = "";
      list.forEach(function (text) {
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = text;
        box.appendChild(p);
      });
    });
    form.querySelectorAll("[data-kind]").forEach(function (el) {
      if (errors[el.name]) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    });
  }

  function refreshConfig(form) {
    var config = {};
    var errors = {};
    form.querySelectorAll("[data-kind]").forEach(function (el) {
      var value = readField(form, el, errors);
      if (value !== undefined) setIn(config, pointerKey(el.name), value);
    });
    var out = document.getElementById("config-json");
    var status = document.getElementById("config-status");
    var count = Object.keys(errors).length;
    if (out) {
      out.textContent = JSON.stringify(config, null, 2);
      out.dataset.valid = count ? "false" : "true";
    }
    if (status) {
      status.hidden = false;
      status.className = "alert " + (count ? "alert-error" : "alert-ok");
      status.textContent = count ? form.dataset.msgInvalid : form.dataset.msgValid;
    }
    showErrors(form, errors);
    return count === 0;
  }

  // Install snippets follow the form: once the typed config is valid (checked here
  // first), the form is posted in the background and only the snippets the answer
  // carries out of band are swapped in; the form itself, and the focus, stay put.
  function liveSnippets(form) {
    var timer = null;
    var url = form.getAttribute("hx-post");
    if (!window.htmx || !url) return function () {};
    return function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        // Not for a form the page no longer shows, nor while its own submit is running.
        if (!document.body.contains(form) || form.classList.contains("htmx-request")) return;
        if (!refreshConfig(form)) return;
        window.htmx.ajax("POST", url, { source: form, swap: "none" });
      }, 350);
    };
  }

  function initConfigForms(root) {
    root.querySelectorAll("form[data-config-form]").forEach(function (form) {
      if (form.dataset.ready) return;
      form.dataset.ready = "1";
      var follow = liveSnippets(form);
      form.addEventListener("input", function () { refreshConfig(form); follow(); });
      form.addEventListener("change", function () { refreshConfig(form); follow(); });
    });
  }

  function initCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        if (!source) return;
        var text = source.textContent;
        var done = function () {
          var label = button.getAttribute("aria-label");
          button.setAttribute("aria-label", button.dataset.copiedLabel || "Copied");
          button.classList.add("copied");
          setTimeout(function () {
            button.classList.remove("copied");
            if (label) button.setAttribute("aria-label", label); else button.removeAttribute("aria-label");
          }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var area = document.createElement("textarea");
          area.value = text;
          document.body.appendChild(area);
          area.select();
          document.execCommand("copy");
          area.remove();
          done();
        }
      });
    });
  }

  function init(root) {
    initConfigForms(root);
    initCopyButtons(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();

// Install snippets: without JS every snippet is shown with its heading; with JS they
// become an accessible tab list (arrow keys move between tabs).
(function () {
  "use strict";
  function initTabs(root) {
    root.querySelectorAll("[data-tabs]").forEach(function (box) {
      if (box.dataset.ready) return;
      box.dataset.ready = "1";
      var panels = Array.prototype.slice.call(box.querySelectorAll("[data-tab-label]"));
      if (panels.length < 2) return;
      var list = document.createElement("div");
      list.setAttribute("role", "tablist");
      var tabs = panels.map(function (panel, i) {
        var tab = document.createElement("button");
        tab.type = "button";
        tab.setAttribute("role", "tab");
        tab.id = "tab-" + panel.id;
        tab.setAttribute("aria-controls", panel.id);
        tab.textContent = panel.dataset.tabLabel;
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", tab.id);
        list.appendChild(tab);
        return tab;
      });
      function select(index, focus) {
        tabs.forEach(function (tab, i) {
          var on = i === index;
          tab.setAttribute("aria-selected", on ? "true" : "false");
          tab.tabIndex = on ? 0 : -1;
          panels[i].hidden = !on;
        });
        if (focus) tabs[index].focus();
      }
      tabs.forEach(function (tab, i) {
        tab.addEventListener("click", function () { select(i, false); });
        tab.addEventListener("keydown", function (e) {
          if (e.key === "ArrowRight") select((i + 1) % tabs.length, true);
          if (e.key === "ArrowLeft") select((i - 1 + tabs.length) % tabs.length, true);
        });
      });
      box.insertBefore(list, box.firstChild);
      box.classList.add("enhanced");
      select(1 < tabs.length ? 1 : 0, false);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { initTabs(document); });
  document.addEventListener("htmx:load", function (e) { initTabs(e.target); });
})();

// Search: leave empty filters and the default sort out of the request (and the pushed URL).
document.addEventListener("htmx:configRequest", function (event) {
  var elt = event.detail.elt;
  if (!elt || elt.id !== "search-form") return;
  var params = event.detail.parameters;
  var drop = [];
  var keys = params.keys ? Array.from(params.keys()) : Object.keys(params);
  keys.forEach(function (key) {
    var value = params.get ? params.get(key) : params[key];
    if (value === "" || (key === "sort" && value === "relevance")) drop.push(key);
  });
  drop.forEach(function (key) { if (params.delete) params.delete(key); else delete params[key]; });
});

// Map-typed config fields (plans, users: an object of any keys) get a key/value editor.
// The JSON textarea the server reads stays the source of truth: every edit rewrites it
// and fires "input", so validation, the preview and the snippets follow. Without JS, or
// when the current text is not a JSON object, the textarea is left as it is.
(function () {
  "use strict";
  function text(form, key, fallback) { return (form && form.dataset["msg" + key]) || fallback; }

  function valueInput(kind, value) {
    var input;
    if (kind === "boolean") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = value === true;
    } else if (kind === "json") {
      input = document.createElement("textarea");
      input.rows = 2;
      input.spellcheck = false;
      input.value = value === undefined ? "" : JSON.stringify(value);
    } else {
      input = document.createElement("input");
      input.type = kind === "string" ? "text" : "number";
      if (kind === "integer") input.step = "1";
      input.value = value === undefined || value === null ? "" : String(value);
    }
    input.className = "map-value";
    return input;
  }

  function readValue(kind, input) {
    if (kind === "boolean") return input.checked;
    var raw = input.value;
    if (kind === "string") return raw;
    if (raw.trim() === "") return undefined;
    if (kind === "json") {
      try { input.removeAttribute("aria-invalid"); return JSON.parse(raw); }
      catch (e) { input.setAttribute("aria-invalid", "true"); return raw; }
    }
    return Number(raw);
  }

  function initMap(box) {
    if (box.dataset.ready) return;
    var area = box.querySelector("textarea[data-kind]");
    if (!area) return;
    var entries;
    try { entries = area.value.trim() ? JSON.parse(area.value) : {}; } catch (e) { return; }
    if (typeof entries !== "object" || entries === null || Array.isArray(entries)) return;
    box.dataset.ready = "1";
    var form = box.closest("form");
    var kind = box.dataset.mapField;
    var label = box.querySelector("label");
    var name = label ? label.textContent.replace("*", "").trim() : area.name;
    var editor = document.createElement("div");
    editor.className = "map-editor";
    editor.setAttribute("role", "group");
    if (label) editor.setAttribute("aria-label", name);
    var rows = document.createElement("div");
    rows.className = "map-rows";
    editor.appendChild(rows);

    function sync() {
      var result = {};
      rows.querySelectorAll(".map-row").forEach(function (row) {
        var key = row.querySelector(".map-key").value.trim();
        var value = readValue(kind, row.querySelector(".map-value"));
        if (key !== "" && value !== undefined) result[key] = value;
      });
      area.value = Object.keys(result).length ? JSON.stringify(result, null, 2) : "";
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function addRow(key, value) {
      var row = document.createElement("div");
      row.className = "map-row";
      var n = rows.children.length + 1;
      var keyInput = document.createElement("input");
      keyInput.type = "text";
      keyInput.className = "map-key";
      keyInput.value = key;
      keyInput.spellcheck = false;
      keyInput.setAttribute("aria-label", name + " " + text(form, "Key", "Key") + " " + n);
      var input = valueInput(kind, value);
      input.setAttribute("aria-label", name + " " + text(form, "Value", "Value") + " " + n);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-small btn-secondary map-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", text(form, "RemoveEntry", "Remove entry") + " " + n);
      remove.addEventListener("click", function () { row.remove(); sync(); });
      [keyInput, input].forEach(function (el) {
        el.addEventListener("input", function (e) { e.stopPropagation(); sync(); });
        el.addEventListener("change", function (e) { e.stopPropagation(); sync(); });
      });
      row.appendChild(keyInput);
      row.appendChild(input);
      row.appendChild(remove);
      rows.appendChild(row);
      return keyInput;
    }

    Object.keys(entries).forEach(function (key) { addRow(key, entries[key]); });
    var add = document.createElement("button");
    add.type = "button";
    add.className = "btn btn-small btn-secondary map-add";
    add.textContent = "+ " + text(form, "AddEntry", "Add entry");
    add.addEventListener("click", function () { addRow("", undefined).focus(); });
    editor.appendChild(add);
    area.hidden = true;
    box.querySelectorAll(".hint").forEach(function (hint) {
      if (!hint.id) hint.hidden = true;  // "Edited as JSON." no longer applies
    });
    area.parentNode.insertBefore(editor, area);
    if (label) label.removeAttribute("for");
  }

  function init(root) { root.querySelectorAll("[data-map-field]").forEach(initMap); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();

// Every htmx request carries the page's CSRF token (forms also carry it as a field).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) event.detail.headers["X-CSRF-Token"] = meta.content;
});
