/* The coverage dashboard of a screening round (ECharts): tested / exempt / untested per grid
   (stacked bars) and persons sampled per site per hour (lines). The page gives the figures
   with json_script (id "round-data", the same JSON as the round's data endpoint) and the
   #grid-chart and #site-chart elements; labels come translated in data- attributes. htmx
   replaces the figures every 30 s; the chart elements are kept (hx-preserve) and redrawn
   from the new figures. No inline script (CSP). */
(function () {
  "use strict";

  function chartOn(id) {
    var holder = document.getElementById(id);
    if (!holder || !window.echarts) {
      return null;
    }
    var chart = window.echarts.getInstanceByDom(holder);
    if (!chart) {
      chart = window.echarts.init(holder);
      window.addEventListener("resize", function () { chart.resize(); });
    }
    return chart;
  }

  // Bars lie flat (grid names on the vertical axis): long names stay readable on phones.
  var BAR_PIXELS = 22;
  var MOST_BARS_SHOWN = 25;

  function drawGrids(data) {
    var chart = chartOn("grid-chart");
    if (!chart) {
      return;
    }
    var holder = chart.getDom();
    var labels = holder.dataset;
    var count = data.grids.length;
    var height = Math.max(Math.min(count, MOST_BARS_SHOWN) * BAR_PIXELS + 72, 160) + "px";
    if (holder.style.height !== height) {
      holder.style.height = height;
      chart.resize();
    }
    // The worst covered grids come first (the order of the table): at the top.
    var rows = data.grids.slice().reverse();
    function series(key, colour) {
      return {
        name: labels[key], type: "bar", stack: "targets", color: colour, barMaxWidth: 18,
        emphasis: { focus: "series" },
        data: rows.map(function (row) { return row[key]; })
      };
    }
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
      legend: { top: 0 },
      grid: { left: 8, right: count > MOST_BARS_SHOWN ? 32 : 16, top: 32, bottom: 8, containLabel: true },
      // Many grids (a county's round): a window of them, scrolled with the slider or wheel.
      dataZoom: count > MOST_BARS_SHOWN ? [
        { type: "slider", yAxisIndex: 0, right: 4, width: 14,
          startValue: count - MOST_BARS_SHOWN, endValue: count - 1 },
        { type: "inside", yAxisIndex: 0, zoomOnMouseWheel: false, moveOnMouseWheel: true }
      ] : [],
      xAxis: { type: "value", minInterval: 1 },
      yAxis: {
        type: "category",
        data: rows.map(function (row) { return row.name; }),
        axisLabel: { width: 110, overflow: "truncate", interval: 0 }
      },
      series: [series("tested", "#2e7d32"), series("exempt", "#9e9e9e"), series("untested", "#c62828")]
    }, { replaceMerge: ["series", "dataZoom"] });
  }

  // Beyond this many sites the lines become a tangle: all sites together are drawn, and
  // each site only once picked in the legend.
  var MOST_SITES_DRAWN = 8;

  function drawSites(data) {
    var chart = chartOn("site-chart");
    if (!chart) {
      return;
    }
    var sites = data.throughput.sites;
    var series = sites.map(function (site) {
      return { name: site.name, type: "line", showSymbol: false, data: site.data };
    });
    var selected = {};
    if (sites.length > MOST_SITES_DRAWN) {
      var all = chart.getDom().dataset.all;
      var total = data.throughput.hours.map(function (hour, i) {
        return sites.reduce(function (sum, site) { return sum + site.data[i]; }, 0);
      });
      series.unshift({ name: all, type: "line", showSymbol: false, data: total, lineStyle: { width: 3 } });
      sites.forEach(function (site) { selected[site.name] = false; });
    }
    var previous = chart.getOption();
    chart.setOption({
      tooltip: { trigger: "axis", confine: true },
      // Keep what the user picked in the legend across refreshes.
      legend: { type: "scroll", bottom: 0, selected: previous ? previous.legend[0].selected : selected },
      grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: "category", boundaryGap: false, data: data.throughput.hours },
      yAxis: { type: "value", minInterval: 1 },
      series: series
    }, { replaceMerge: ["series"] });
  }

  function draw() {
    var source = document.getElementById("round-data");
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    drawGrids(data);
    drawSites(data);
  }

  function start() {
    draw();
    // The only htmx swap of the page is the refresh of the figures.
    document.body.addEventListener("htmx:afterSettle", draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
