// Draws every figure on the page from its JSON (a <script type="application/json"> beside it):
// the page's only script besides plotly.js, so the Content-Security-Policy allows no inline code.
document.querySelectorAll("[data-figure]").forEach(function (element) {
  var figure = JSON.parse(document.getElementById(element.dataset.figure).textContent);
  Plotly.newPlot(element, figure.data, figure.layout, {responsive: true, displaylogo: false}).then(function () {
    element.dataset.drawn = "true";
  });
  if (element.dataset.links === "runs") {
    // A trend's points carry their run id: a click opens that run.
    element.on("plotly_click", function (event) {
      var id = event.points[0].customdata;
      if (id) { window.location.href = "/runs/" + id; }
    });
  }
});
