// BALIS reader portal: progressive enhancement only. Without this file every page still works:
// a search then shows the complete page once every member has answered.
"use strict";

// Tell a screen reader how many editions the search found: once when the first results arrive, once at the end.
function announcer() {
  var region = document.getElementById("announce");
  var said = { first: false, works: 0 };
  function say(kind, count) {
    if (!region) { return; }
    var text = count === 0 && kind === "done" ? region.getAttribute("data-none")
      : region.getAttribute("data-" + kind).replace("{count}", String(count));
    region.textContent = text;
  }
  return {
    results: function (works, finished) {
      said.works = works;
      if (!finished && !said.first && works > 0) { said.first = true; say("waiting", works); }
    },
    done: function () { say("done", said.works); }
  };
}

function liveSearch(box) {
  var done = false;
  var announce = announcer();
  var source = new EventSource(box.getAttribute("data-events"));
  function replace(id, html) {
    var el = document.getElementById(id);
    if (!el || typeof html !== "string") { return; }
    // keep the member strip opened or closed as the reader left it
    var before = el.querySelector("details");
    var open = before ? before.open : null;
    el.innerHTML = html;
    var after = el.querySelector("details");
    if (after && open !== null) { after.open = open; }
  }
  source.addEventListener("status", function (e) {
    replace("status-strip", JSON.parse(e.data).html);
  });
  source.addEventListener("results", function (e) {
    var data = JSON.parse(e.data);
    replace("results", data.html);
    replace("facets", data.facets);
    replace("status-strip", data.status);
    announce.results(data.works, data.done);
  });
  source.addEventListener("done", function () {
    done = true;
    source.close();
    box.setAttribute("data-done", "1");
    announce.done();
  });
  source.addEventListener("failed", function () {
    done = true;
    source.close();
    window.location.replace(box.getAttribute("data-fallback"));
  });
  source.onerror = function () {
    if (done) { return; }
    // The stream was refused (too many searches, a bad parameter) or broke: the complete page tells why.
    done = true;
    source.close();
    window.location.replace(box.getAttribute("data-fallback"));
  };
}

// On a narrow screen the menu folds behind a button; without this script it shows in full, wrapped.
function foldingMenu() {
  var button = document.getElementById("menu-button");
  var nav = document.getElementById("site-nav");
  if (!button || !nav) { return; }
  document.documentElement.classList.add("js-menu");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  });
}

var NARROW = "(max-width: 720px)";

// A table wider than a phone scrolls inside its own box: let the keyboard reach it to scroll it too.
function keyboardScrollers() {
  Array.prototype.forEach.call(document.querySelectorAll("main table"), function (table) {
    if (table.scrollWidth > table.clientWidth + 1) { table.tabIndex = 0; } else { table.removeAttribute("tabindex"); }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  foldingMenu();
  keyboardScrollers();
  window.addEventListener("resize", keyboardScrollers);
  // On a phone the results come first: the member strip shows its one-line summary, and the facets wait,
  // closed, below the results.
  if (window.matchMedia && window.matchMedia(NARROW).matches) {
    Array.prototype.forEach.call(document.querySelectorAll("#facets-drawer, #status-strip details"), function (d) {
      d.open = false;
    });
  }
  var forms = document.querySelectorAll("form.search-form");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function () {
      if (!form.querySelector("input[name=live]")) {
        var live = document.createElement("input");
        live.type = "hidden"; live.name = "live"; live.value = "1";
        form.appendChild(live);
      }
      // Leave empty advanced fields out of the address.
      Array.prototype.forEach.call(form.querySelectorAll(".advanced input"), function (input) {
        if (!input.value) { input.disabled = true; }
      });
    });
  });
  var box = document.querySelector("#search[data-events]");
  if (box && window.EventSource) { liveSearch(box); }
});

window.addEventListener("pageshow", function () {
  Array.prototype.forEach.call(document.querySelectorAll(".advanced input"), function (input) {
    input.disabled = false;
  });
});
