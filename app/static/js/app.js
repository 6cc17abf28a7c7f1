// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

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
    };
    projectSelect.addEventListener("change", sync);
    sync();
  });

  // Disable submit buttons after the first click (the server is the real guard).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
