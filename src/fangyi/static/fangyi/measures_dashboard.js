/* People under control by region, stacked by measure type (ECharts).
   The page gives the data with json_script (id "measures-chart-data": region names and one
   series per measure type, labels already translated) and a #measures-chart element; no
   inline script (CSP). */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("measures-chart");
    var source = document.getElementById("measures-chart-data");
    if (!holder || !source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(holder);
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 8, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.regions, axisLabel: { interval: 0, rotate: data.regions.length > 6 ? 40 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (series) {
        return { name: series.name, type: "bar", stack: "under_control", data: series.data, emphasis: { focus: "series" } };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
