// Utilisation charts: capacity, allocated and used accelerator-hours per day, one chart per
// accelerator type, from the JSON the page carries (no inline script: the CSP forbids it).
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("util-data");
    if (!el || typeof uPlot === "undefined") return;
    var data = JSON.parse(el.textContent);
    var colours = { capacity: "#1f4e79", allocated: "#b35900", used: "#2e7d32" };
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var s = data.series[box.dataset.chart];
      if (!s) return;
      var keys = ["capacity", "allocated", "used"];
      var opts = {
        width: Math.min(box.clientWidth || 720, 900),
        height: 240,
        series: [{ label: data.labels.day }].concat(keys.map(function (k) {
          return { label: data.labels[k], stroke: colours[k], width: 2 };
        })),
        axes: [{}, { label: data.unit }],
      };
      new uPlot(opts, [data.days].concat(keys.map(function (k) { return s[k]; })), box);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
