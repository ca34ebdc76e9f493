/* Charts of the surveillance dashboards (ECharts). Each chart is an element with
   data-chart (its kind) and data-source (the id of a json_script holding its data, labels
   already translated); no inline script (CSP).
   - epicurve: daily cases stacked by classification ({days, series: [{name, data}]});
   - rt: Rt with its 95% credible interval as a band (the same data, key "rt");
   - positivity: daily rate (%) with its Wilson interval, tests as bars;
   - trend: one source's top topics ({days, sources: [{id, series, signals}]}; data-series
     names the source), the days of its signals as lines;
   - heatmap: signals by township × day; a click opens the signal list (data-link). */
(function () {
  "use strict";

  var BAND = "#5470c6";

  function read(holder) {
    var source = document.getElementById(holder.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function axis(days) {
    return { type: "category", data: days, axisLabel: { hideOverlap: true } };
  }

  // A line with a shaded interval: the lower bound, then the width stacked on it.
  function band(name, days, mean, lower, upper) {
    var width = upper.map(function (high, i) {
      return high === null || lower[i] === null ? null : +(high - lower[i]).toFixed(4);
    });
    return [
      { name: "lower", type: "line", data: lower, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false } },
      { name: "band", type: "line", data: width, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: BAND, opacity: 0.2 }, tooltip: { show: false } },
      { name: name, type: "line", data: mean, symbol: "none", itemStyle: { color: BAND }, connectNulls: false }
    ];
  }

  var draw = {
    epicurve: function (data) {
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
        legend: { type: "scroll", bottom: 0 },
        grid: { left: 8, right: 8, top: 16, bottom: 40, containLabel: true },
        xAxis: axis(data.days),
        yAxis: { type: "value", minInterval: 1 },
        series: data.series.map(function (series) {
          return { name: series.name, type: "bar", stack: "cases", data: series.data, emphasis: { focus: "series" } };
        })
      };
    },
    rt: function (data) {
      var rt = data.rt;
      return {
        tooltip: { trigger: "axis", confine: true, valueFormatter: function (v) { return v === null ? "" : v.toFixed(2); } },
        grid: { left: 8, right: 8, top: 16, bottom: 24, containLabel: true },
        xAxis: axis(rt.days),
        yAxis: { type: "value", min: 0 },
        series: band("Rt", rt.days, rt.mean, rt.lower, rt.upper).concat([
          { type: "line", data: [], markLine: { silent: true, symbol: "none", label: { show: false }, data: [{ yAxis: 1 }], lineStyle: { type: "dashed", color: "#c62828" } } }
        ])
      };
    },
    positivity: function (data) {
      var series = band("%", data.days, data.rate, data.lower, data.upper);
      series.push({ name: "n", type: "bar", yAxisIndex: 1, data: data.tested, itemStyle: { color: "#91cc75", opacity: 0.5 } });
      return {
        tooltip: { trigger: "axis", confine: true },
        grid: { left: 8, right: 8, top: 24, bottom: 24, containLabel: true },
        xAxis: axis(data.days),
        yAxis: [
          { type: "value", min: 0, axisLabel: { formatter: "{value}%" } },
          { type: "value", minInterval: 1, splitLine: { show: false } }
        ],
        series: series
      };
    },
    trend: function (data, holder) {
      var trend = data.sources.find(function (item) { return item.id === holder.dataset.series; });
      var series = trend.series.map(function (item) {
        return { name: item.name, type: "line", data: item.data, symbol: "none" };
      });
      if (series.length && trend.signals.length) {
        series[0].markLine = {
          symbol: "none",
          label: { show: false },
          lineStyle: { type: "dashed", color: "#c62828" },
          data: trend.signals.map(function (signal) { return { xAxis: signal[0], name: signal[1] }; })
        };
      }
      return {
        tooltip: { trigger: "axis", confine: true },
        legend: { type: "scroll", bottom: 0, textStyle: { fontSize: 11 } },
        grid: { left: 4, right: 8, top: 12, bottom: 36, containLabel: true },
        xAxis: axis(data.days),
        yAxis: { type: "value", minInterval: 1 },
        series: series
      };
    },
    heatmap: function (data, holder, chart) {
      var max = data.cells.reduce(function (top, cell) { return Math.max(top, cell[2]); }, 1);
      var link = holder.dataset.link;
      if (link) {
        chart.on("click", function (params) {
          var cell = params.data;
          window.location.href = link + "?region=" + data.region_ids[cell[1]] + "&day=" + data.days[cell[0]];
        });
      }
      return {
        tooltip: { position: "top", confine: true, formatter: function (p) { return data.regions[p.data[1]] + " " + data.days[p.data[0]] + "：" + p.data[2]; } },
        grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
        xAxis: { type: "category", data: data.days, splitArea: { show: true }, axisLabel: { hideOverlap: true } },
        yAxis: { type: "category", data: data.regions, splitArea: { show: true } },
        visualMap: { min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 80 },
        series: [{ type: "heatmap", data: data.cells, label: { show: true }, cursor: link ? "pointer" : "default" }]
      };
    }
  };

  function render() {
    document.querySelectorAll("[data-chart]").forEach(function (holder) {
      var data = read(holder);
      if (!data || !window.echarts || !draw[holder.dataset.chart]) {
        return;
      }
      var chart = window.echarts.init(holder);
      chart.setOption(draw[holder.dataset.chart](data, holder, chart));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
