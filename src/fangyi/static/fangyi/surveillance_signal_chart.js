/* A signal's series: daily counts over the 60 days before its day, with the threshold of
   that day marked (ECharts). The page gives the data with json_script (id
   "signal-chart-data": days, counts, day, observed, threshold and translated labels) and a
   #signal-chart element; no inline script (CSP). */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("signal-chart");
    var source = document.getElementById("signal-chart-data");
    if (!holder || !source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var series = [
      { name: data.labels.counts, type: "bar", data: data.counts, itemStyle: { color: "#1565c0" } }
    ];
    if (data.threshold !== null) {
      series.push({
        name: data.labels.threshold,
        type: "scatter",
        symbolSize: 12,
        itemStyle: { color: "#c62828" },
        data: [[data.day, data.threshold]],
        label: { show: true, position: "left", formatter: function () { return data.labels.threshold + " " + (Math.round(data.threshold * 100) / 100); } }
      });
    }
    var chart = window.echarts.init(holder);
    chart.setOption({
      tooltip: { trigger: "axis", confine: true },
      legend: { bottom: 0 },
      grid: { left: 8, right: 8, top: 24, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.days, axisLabel: { formatter: function (day) { return day.slice(5); } } },
      yAxis: { type: "value", minInterval: 1 },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
