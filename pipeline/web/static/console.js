/* tiket console: keyboard, row selection, canned replies and confirmations. No inline script
   anywhere (the Content-Security-Policy forbids it); htmx does the polling and lazy panels. */
(function () {
  "use strict";
  var current = 0;
  var advance = false;  // after an accept: move to the next ticket still waiting for review
  var csrf = document.body.dataset.csrf || "";
  var page = document.body.dataset.page;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-body tr[data-ref]")); }
  function mark() {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(current, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("current", i === current); row.setAttribute("aria-selected", i === current ? "true" : "false"); });
    all[current].scrollIntoView({ block: "nearest" });
  }
  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function toggleHelp() { var help = document.getElementById("help"); if (help) { help.hidden = !help.hidden; } }
  function refreshQueue() { document.body.dispatchEvent(new Event("refresh")); }

  function acceptRows() {
    var all = rows();
    var picked = all.filter(function (r) { return r.querySelector("input[type=checkbox]").checked; });
    if (!picked.length && all[current]) { picked = [all[current]]; }
    if (!picked.length) { return; }
    var body = new URLSearchParams();
    body.append("csrf", csrf);
    body.append("action", "accept");
    picked.forEach(function (r) { body.append("ticket", r.dataset.ref + ":" + r.dataset.version); r.classList.add("working"); });
    fetch("/bulk", { method: "POST", body: body, credentials: "same-origin",
                     headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf } })
      .then(function (response) { return response.json(); })
      .then(function (result) {
        var status = document.getElementById("status");
        if (status) { status.textContent = result.failed.length ? result.failed.join("; ") : "accepted " + result.done; }
        advance = true;
        refreshQueue();
      });
  }

  function onQueueKey(event) {
    var all = rows();
    switch (event.key) {
      case "j": current += 1; mark(); break;
      case "k": current -= 1; mark(); break;
      case "Enter": if (all[current]) { window.location.href = all[current].dataset.href; } break;
      case "x": if (all[current]) { var box = all[current].querySelector("input[type=checkbox]"); box.checked = !box.checked; } break;
      case "a": acceptRows(); break;
      case "e": case "r": case "n": if (all[current]) { window.location.href = all[current].dataset.href + "#" + event.key; } break;
      default: return false;
    }
    return true;
  }

  function focusField(id) { var field = document.getElementById(id); if (field) { field.focus(); } return !!field; }

  function onTicketKey(event) {
    switch (event.key) {
      case "a": var accept = document.getElementById("accept"); if (accept) { accept.click(); } break;
      case "e": focusField("escalate"); break;
      case "r": focusField("reply"); break;
      case "n": focusField("note"); break;
      case "u": window.location.href = "/"; break;
      default: return false;
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var handled = false;
    if (event.key === "?") { toggleHelp(); handled = true; }
    else if (event.key === "Escape") { var help = document.getElementById("help"); if (help) { help.hidden = true; } handled = true; }
    else if (event.key === "/") { handled = focusField("search"); if (!handled) { window.location.href = "/?focus=search"; handled = true; } }
    else if (page === "queue") { handled = onQueueKey(event); }
    else if (page === "ticket") { handled = onTicketKey(event); }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("[data-help]")) { toggleHelp(); }
    var row = target && target.closest && target.closest("#queue-body tr[data-ref]");
    if (row && !target.matches("a, input")) { current = rows().indexOf(row); mark(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.id === "canned") {
      var option = target.options[target.selectedIndex];
      if (option && option.dataset.body) { var reply = document.getElementById("reply"); reply.value = option.dataset.body; reply.focus(); }
    }
  });

  document.body.addEventListener("htmx:afterSwap", function () {
    if (advance) {
      advance = false;
      var all = rows();
      var next = all.findIndex(function (r, i) { return i >= current && r.classList.contains("review"); });
      if (next < 0) { next = all.findIndex(function (r) { return r.classList.contains("review"); }); }
      if (next >= 0) { current = next; }
    }
    mark();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (page === "queue") {
      var status = document.createElement("p");
      status.id = "status"; status.className = "status"; status.setAttribute("role", "status");
      var live = document.getElementById("live");
      if (live) { live.parentNode.insertBefore(status, live); }
      var first = rows().findIndex(function (r) { return r.classList.contains("review"); });
      current = first >= 0 ? first : 0;
      mark();
      if (new URLSearchParams(window.location.search).get("focus") === "search") { focusField("search"); }
    }
    if (page === "ticket" && window.location.hash.length === 2) {
      var key = window.location.hash.slice(1);
      focusField({ e: "escalate", r: "reply", n: "note" }[key] || "");
    }
  });
})();
