// The reports page: draw the chart from the JSON the server embedded, and
// re-run the report when the grouping or period changes.
(function () {
  "use strict";

  var form = document.getElementById("report-filters");
  if (form) {
    ["group_by", "preset"].forEach(function (name) {
      var select = form.elements[name];
      if (select) select.addEventListener("change", function () { form.submit(); });
    });
    ["start", "end"].forEach(function (name) {
      var input = form.elements[name];
      if (input) input.addEventListener("change", function () { form.elements.preset.value = "custom"; });
    });
  }

  var canvas = document.getElementById("report-chart");
  var dataEl = document.getElementById("report-data");
  if (!canvas || !dataEl || typeof window.Chart === "undefined") return;
  var data = JSON.parse(dataEl.textContent);
  var hours = data.seconds.map(function (s) { return Math.round(s / 36) / 100; });
  var colors = data.colors.map(function (c) { return c || "#3b82f6"; });
  var chart = new window.Chart(canvas, {
    type: data.type,
    data: {
      labels: data.labels,
      datasets: [{
        label: "Hours",
        data: hours,
        backgroundColor: data.type === "bar" ? colors : "rgba(59, 130, 246, 0.2)",
        borderColor: data.type === "bar" ? colors : "#3b82f6",
        fill: data.type === "line",
        tension: 0
      }]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "Hours" } } }
    }
  });
  canvas.dataset.drawn = "true";
  window.reportChart = chart;
})();
