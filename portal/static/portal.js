// BALIS reader portal: progressive enhancement only. Without this file every page still works:
// a search then shows the complete page once every member has answered.
"use strict";

function liveSearch(box) {
  var done = false;
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
  });
  source.addEventListener("done", function () {
    done = true;
    source.close();
    box.setAttribute("data-done", "1");
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

document.addEventListener("DOMContentLoaded", function () {
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
