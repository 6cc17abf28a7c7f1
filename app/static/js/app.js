// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  // The narrow-screen menu: one button folds and unfolds the navigation.
  var navToggle = document.querySelector(".nav-toggle");
  if (navToggle) {
    navToggle.addEventListener("click", function () {
      var bar = navToggle.closest(".topbar");
      var open = !bar.classList.contains("is-open");
      bar.classList.toggle("is-open", open);
      navToggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Narrow screens show each table row as a card: label every cell with its column heading.
  document.querySelectorAll("table.table").forEach(function (table) {
    var headings = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr, tfoot tr").forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        if (!cell.hasAttribute("data-label") && headings[column]) {
          cell.setAttribute("data-label", headings[column]);
        }
        column += cell.colSpan || 1;
      });
    });
  });

  // Live clock for the running timer (the server's value is the fallback).
  var clock = document.getElementById("timer-clock");
  if (clock) {
    var started = Date.parse(clock.dataset.started);
    var tick = function () {
      var s = Math.max(0, Math.floor((Date.now() - started) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      clock.textContent = h + ":" + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
    };
    tick();
    setInterval(tick, 1000);
  }

  // Show only the tasks of the chosen project.
  var mapEl = document.getElementById("task-project-map");
  var taskProject = mapEl ? JSON.parse(mapEl.textContent) : {};
  document.querySelectorAll("[data-project-select]").forEach(function (projectSelect) {
    var form = projectSelect.form;
    var taskSelect = form && form.querySelector("[data-task-select]");
    if (!taskSelect) return;
    var sync = function () {
      Array.prototype.forEach.call(taskSelect.options, function (opt) {
        var owner = taskProject[opt.value];
        var visible = opt.value === "0" || opt.value === "" || String(owner) === projectSelect.value;
        opt.hidden = !visible;
        opt.disabled = !visible;
        if (!visible && opt.selected) taskSelect.value = "0";
      });
      // A group whose options are all hidden would still show its header: hide it too.
      taskSelect.querySelectorAll("optgroup").forEach(function (group) {
        var any = Array.prototype.some.call(group.children, function (opt) { return !opt.hidden; });
        group.hidden = !any;
        group.disabled = !any;
      });
    };
    projectSelect.addEventListener("change", sync);
    sync();
  });

  // "Billable: As the project" says what that means for the chosen project.
  var billableEl = document.getElementById("project-billable-map");
  var projectBillable = billableEl ? JSON.parse(billableEl.textContent) : {};
  document.querySelectorAll("[data-billable-select]").forEach(function (billable) {
    var projectSelect = billable.form && billable.form.querySelector("[data-project-select]");
    var asProject = billable.querySelector("option[value='']");
    if (!projectSelect || !asProject) return;
    var label = function () {
      var known = projectBillable[projectSelect.value];
      asProject.textContent = "As the project" +
        (known === undefined ? "" : known ? " (billable)" : " (not billable)");
    };
    projectSelect.addEventListener("change", label);
    label();
  });

  // Time zone menus: preselect the browser's zone on a fresh form (setup, new user), or
  // offer it next to a saved one (profile). The server's value stays without JavaScript.
  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old browser */ }
  document.querySelectorAll("select[data-browser-timezone]").forEach(function (select) {
    var has = Array.prototype.some.call(select.options, function (o) { return o.value === browserZone; });
    if (!browserZone || !has || select.value === browserZone) return;
    var mode = select.dataset.browserTimezone;
    if (mode === "preselect") {
      select.value = browserZone;
    } else if (mode === "suggest") {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm";
      button.textContent = "Use this device's zone (" + browserZone + ")";
      button.addEventListener("click", function () { select.value = browserZone; button.remove(); });
      select.insertAdjacentElement("afterend", button);
    }
  });

  // Timesheet: arrow keys move between cells (Tab already does); totals follow what is typed.
  var sheet = document.getElementById("timesheet");
  if (sheet) {
    var cells = function () { return Array.prototype.slice.call(sheet.querySelectorAll("input.cell")); };
    var parse = function (text) {
      var t = String(text || "").trim().toLowerCase().replace(",", ".");
      var m;
      if (!t) return 0;
      if ((m = t.match(/^(\d{1,3}):([0-5]\d)$/))) return m[1] * 3600 + m[2] * 60;
      if ((m = t.match(/^(\d{1,3})\s*h\s*(\d{1,2})\s*(?:m(?:in)?)?$/))) return m[1] * 3600 + m[2] * 60;
      if ((m = t.match(/^(\d{1,5})\s*m(?:in)?$/))) return m[1] * 60;
      if ((m = t.match(/^(\d{1,3}(?:\.\d{1,2})?)h?$/))) return Math.round(parseFloat(m[1]) * 3600);
      return NaN;
    };
    var decimal = document.documentElement.dataset.hours === "decimal";
    var show = function (s) {
      if (decimal) return (s / 3600).toFixed(2);
      return Math.floor(s / 3600) + ":" + String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    };
    var recount = function () {
      var days = [0, 0, 0, 0, 0, 0, 0], week = 0;
      sheet.querySelectorAll("tbody tr").forEach(function (row) {
        var total = 0;
        row.querySelectorAll("input.cell").forEach(function (input) {
          var s = parse(input.value);
          input.classList.toggle("is-unreadable", isNaN(s));
          if (!isNaN(s)) { total += s; days[+input.dataset.col] += s; }
        });
        row.querySelector(".row-total").textContent = show(total);
        week += total;
      });
      sheet.querySelectorAll(".day-total").forEach(function (td, i) { td.textContent = show(days[i]); });
      document.getElementById("week-total").textContent = show(week);
    };
    sheet.addEventListener("input", recount);
    sheet.addEventListener("keydown", function (event) {
      var input = event.target;
      if (!input.classList || !input.classList.contains("cell")) return;
      var all = cells(), index = all.indexOf(input), perRow = 7, target = null;
      var atStart = input.selectionStart === 0 && input.selectionEnd === 0;
      var atEnd = input.selectionStart === input.value.length;
      if (event.key === "ArrowDown") target = all[index + perRow];
      else if (event.key === "ArrowUp") target = all[index - perRow];
      else if (event.key === "ArrowRight" && atEnd) target = all[index + 1];
      else if (event.key === "ArrowLeft" && atStart) target = all[index - 1];
      if (target) { event.preventDefault(); target.focus(); target.select(); }
    });
  }

  // Keyboard shortcuts on the dashboard's timer; "?" lists them. Ignored while typing.
  var timerCard = document.querySelector("[data-shortcuts]");
  var shortcuts = document.getElementById("shortcuts");
  if (timerCard && shortcuts) {
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      var target = event.target;
      var typing = target && (target.isContentEditable ||
        /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      if (typing || shortcuts.open) return;
      var key = event.key;
      if (key === "?") {
        event.preventDefault();
        shortcuts.showModal();
      } else if (key === "s") {
        var button = document.getElementById("stop-timer") || document.getElementById("start-timer");
        if (button) { event.preventDefault(); button.click(); }
      } else if (key === "n") {
        var notes = document.getElementById("timer-notes");
        if (notes) { event.preventDefault(); notes.focus(); }
      } else if (key === "e") {
        event.preventDefault();
        window.location.assign(timerCard.dataset.shortcuts);
      } else if (key === "t") {
        event.preventDefault();
        window.location.assign(timerCard.dataset.timesheet);
      }
    });
  }

  // Disable submit buttons after the first click (the server is the real guard).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      // After this tick: a button disabled during the submit event would drop its own
      // name=value from the data sent.
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
