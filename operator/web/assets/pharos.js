// Pharos pages: optional enhancements. Every page works without this script; with it, times are
// shown in the reader's time zone, uptime bars get tooltips for touch and keyboard, and the
// dashboard's filters apply as soon as a choice is made.
(function () {
  "use strict";

  // Times: <time datetime=... data-local="datetime|date"> are written in UTC by the server.
  var dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    el.title = el.textContent;
    el.textContent = (el.dataset.local === "date" ? dateOnly : dateTime).format(when);
  });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("[data-time-zone]").forEach(function (el) {
    el.textContent = "Times in your time zone (" + zone + ").";
  });

  // Uptime bars: a tooltip on hover, tap and keyboard focus (arrow keys move between days).
  document.querySelectorAll(".bar").forEach(function (bar) {
    var cells = Array.prototype.slice.call(bar.children);
    cells.forEach(function (cell) {
      if (cell.title) {
        cell.dataset.tip = cell.title;
        cell.removeAttribute("title");
      }
    });
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    tip.setAttribute("role", "tooltip");
    tip.id = "tip-" + Math.random().toString(36).slice(2);
    bar.parentNode.insertBefore(tip, bar.nextSibling);
    bar.parentNode.style.position = "relative";
    var current = -1;

    function visible() {
      return cells.filter(function (cell) { return cell.offsetParent !== null; });
    }
    function show(cell) {
      cells.forEach(function (c) { c.classList.toggle("current", c === cell); });
      current = cells.indexOf(cell);
      tip.textContent = cell.dataset.tip || "";
      tip.hidden = false;
      var box = cell.getBoundingClientRect();
      var parent = bar.parentNode.getBoundingClientRect();
      var left = box.left - parent.left + box.width / 2 - tip.offsetWidth / 2;
      left = Math.max(0, Math.min(left, parent.width - tip.offsetWidth));
      tip.style.left = left + "px";
      tip.style.top = (box.top - parent.top - tip.offsetHeight - 6) + "px";
    }
    function hide() {
      tip.hidden = true;
      cells.forEach(function (c) { c.classList.remove("current"); });
    }
    bar.addEventListener("pointerover", function (e) {
      if (e.target.parentNode === bar) show(e.target);
    });
    bar.addEventListener("pointerleave", function () {
      if (document.activeElement !== bar) hide();
    });
    bar.addEventListener("click", function (e) {
      if (e.target.parentNode === bar) show(e.target);
    });
    bar.tabIndex = 0;
    bar.setAttribute("aria-describedby", tip.id);
    bar.addEventListener("focus", function () {
      var shown = visible();
      if (shown.length) show(shown[shown.length - 1]);
    });
    bar.addEventListener("blur", hide);
    bar.addEventListener("keydown", function (e) {
      var shown = visible();
      var at = shown.indexOf(cells[current]);
      if (e.key === "ArrowLeft" && at > 0) at -= 1;
      else if (e.key === "ArrowRight" && at < shown.length - 1) at += 1;
      else if (e.key === "Home") at = 0;
      else if (e.key === "End") at = shown.length - 1;
      else if (e.key === "Escape") { hide(); return; }
      else return;
      e.preventDefault();
      show(shown[at]);
    });
  });

  // Dashboard filters: apply a select's choice at once.
  document.querySelectorAll("form.filters select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
})();
