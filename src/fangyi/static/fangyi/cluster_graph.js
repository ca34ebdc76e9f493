/* Draws a transmission graph (cluster or chain) with ECharts.
   The page gives the data with json_script (id "graph-data": categories, nodes, links, all
   texts already translated) and a #graph element; no inline script (CSP). */
(function () {
  "use strict";

  var COLOURS = {
    confirmed: "#c62828",
    clinical: "#ef6c00",
    suspected: "#f9a825",
    asymptomatic: "#8e24aa",
    carrier: "#6d4c41",
    contact1: "#1e88e5",
    contact2: "#90caf9",
    outside: "#9e9e9e"
  };

  function edge(link) {
    if (link.kind === "shared_place") {
      return { lineStyle: { type: "dashed", width: 1.5, opacity: 0.8 }, symbol: ["none", "none"] };
    }
    if (link.kind === "transmission") {
      return { lineStyle: { width: 2.5, opacity: 0.9 }, symbol: ["none", "arrow"], symbolSize: 9 };
    }
    return { lineStyle: { width: 1, opacity: 0.4 }, symbol: ["none", "arrow"], symbolSize: 5 };
  }

  function draw() {
    var holder = document.getElementById("graph");
    var source = document.getElementById("graph-data");
    if (!holder || !source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var many = data.nodes.length > 150;
    var nodes = data.nodes.map(function (node, index) {
      var isCase = node.kind === "case";
      return {
        id: "n" + index, // names repeat (anonymised nodes, common names): ECharts needs ids
        name: node.name,
        category: node.category,
        value: node.text,
        url: node.url,
        symbolSize: node.focus ? 26 : isCase ? 16 : many ? 5 : 8,
        itemStyle: node.focus ? { borderColor: "#000", borderWidth: 2 } : undefined,
        label: { show: isCase && (!many || node.focus) }
      };
    });
    var links = data.links.map(function (link) {
      var styled = edge(link);
      styled.source = link.source;
      styled.target = link.target;
      return styled;
    });
    var chart = window.echarts.init(holder);
    chart.setOption({
      tooltip: {
        confine: true,
        formatter: function (params) {
          return params.dataType === "node" ? params.data.value : "";
        }
      },
      legend: {
        type: "scroll",
        bottom: 0,
        data: data.categories.map(function (category) { return category.name; })
      },
      series: [{
        type: "graph",
        layout: "force",
        roam: true,
        draggable: true,
        animation: !many,
        categories: data.categories.map(function (category) {
          return { name: category.name, itemStyle: { color: COLOURS[category.key] || "#607d8b" } };
        }),
        data: nodes,
        links: links,
        label: { position: "right", fontSize: 11 },
        zoom: many ? 0.5 : 1,
        force: {
          repulsion: many ? 12 : 80,
          edgeLength: many ? [4, 24] : [30, 80],
          gravity: many ? 0.3 : 0.1,
          layoutAnimation: !many
        },
        emphasis: { focus: "adjacency" }
      }]
    });
    chart.on("click", function (params) {
      if (params.dataType === "node" && params.data.url) {
        window.location.href = params.data.url;
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
