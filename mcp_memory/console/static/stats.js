// Draws the stats page's charts from the JSON the server put in #chart-data (Chart.js, served locally).
(function () {
  "use strict";

  var palette = {
    pattern: "#4f46e5", solution: "#0891b2", error: "#d97706", best_practice: "#7c3aed", episode: "#16a34a",
    worked: "#16a34a", mixed: "#d97706", failed: "#dc2626", unknown: "#cbd5e1",
    succeeded: "#16a34a", open: "#3b82f6"
  };
  var fallback = ["#4f46e5", "#0891b2", "#d97706", "#db2777", "#16a34a", "#7c3aed", "#94a3b8"];

  function color(key, i) { return palette[key] || fallback[i % fallback.length]; }

  function bars(series) {
    return series.map(function (s, i) {
      return { label: s.label, data: s.values, backgroundColor: color(s.key, i), borderWidth: 0, stack: "s",
               maxBarThickness: 38 };
    });
  }

  function base(extra) {
    var options = {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, font: { size: 11 } } } },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, font: { size: 11 } } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0, font: { size: 11 } }, grid: { color: "#eef0f3" } }
      }
    };
    return Object.assign(options, extra || {});
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("chart-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = "#4b5563";

    if (data.added_by_type) {
      var datasets = bars(data.added_by_type.series);
      datasets.push({ label: "total stored", data: data.added_by_type.total, type: "line", yAxisID: "total",
                      borderColor: "#111827", borderWidth: 1.5, pointRadius: 0, tension: 0.2, stack: "total" });
      var options = base();
      options.scales.total = { position: "right", beginAtZero: true, grid: { display: false },
                               ticks: { precision: 0, font: { size: 11 } } };
      draw("chart-added-by-type", { type: "bar", data: { labels: data.added_by_type.labels, datasets: datasets },
                                    options: options });
    }
    if (data.added_by_language) {
      draw("chart-added-by-language", { type: "bar", data: { labels: data.added_by_language.labels,
                                        datasets: bars(data.added_by_language.series) }, options: base() });
    }
    if (data.outcomes) {
      var outcome = base({ indexAxis: "y" });
      outcome.scales.x.grid = { color: "#eef0f3" };
      outcome.scales.y.grid = { display: false };
      draw("chart-outcomes", { type: "bar", data: { labels: data.outcomes.labels, datasets: bars(data.outcomes.series) },
                               options: outcome });
    }
    if (data.episodes) {
      var episodes = bars(data.episodes.series);
      episodes.push({ label: "success rate", data: data.episodes.rate.map(function (r) { return r === null ? null : r * 100; }),
                      type: "line", yAxisID: "rate", borderColor: "#111827", borderWidth: 1.5, pointRadius: 2,
                      spanGaps: true, stack: "rate" });
      var episodeOptions = base();
      episodeOptions.scales.rate = { position: "right", min: 0, max: 100, grid: { display: false },
                                     ticks: { callback: function (v) { return v + "%"; }, font: { size: 11 } } };
      draw("chart-episodes", { type: "bar", data: { labels: data.episodes.labels, datasets: episodes },
                               options: episodeOptions });
    }
  });
})();
