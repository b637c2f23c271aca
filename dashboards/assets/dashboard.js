// Embeds every chart card's Vega-Lite spec as SVG (vega-bundle.js, loaded before this
// script), then wires the card's buttons to the spec's two parameters: `hidden` (series
// toggled off) and `since` (the first date shown). Buttons are plain <button>s, so the
// keyboard reaches them; aria-pressed tells their state.
(function () {
  "use strict";
  var locale = JSON.parse(document.getElementById("vega-locale").textContent);
  window.cardlakeViews = {};

  function wire(card, view) {
    var hidden = [];
    card.querySelectorAll("button[data-series]").forEach(function (button) {
      button.addEventListener("click", function () {
        var name = button.getAttribute("data-series");
        var shown = button.getAttribute("aria-pressed") === "true";
        button.setAttribute("aria-pressed", String(!shown));
        hidden = shown ? hidden.concat([name]) : hidden.filter(function (n) { return n !== name; });
        view.signal("hidden", hidden).runAsync();
      });
    });
    var ranges = card.querySelectorAll("button[data-since]");
    ranges.forEach(function (button) {
      button.addEventListener("click", function () {
        ranges.forEach(function (other) { other.setAttribute("aria-pressed", String(other === button)); });
        var since = button.getAttribute("data-since");
        view.signal("since", since === "" ? null : Number(since)).runAsync();
      });
    });
  }

  document.querySelectorAll(".chart-card[data-source]").forEach(function (card) {
    var spec = JSON.parse(document.getElementById(card.getAttribute("data-source")).textContent);
    var body = card.querySelector(".chart-body");
    vegaEmbed(body, spec, {
      renderer: "svg",
      actions: false,
      formatLocale: locale.formatLocale,
      timeFormatLocale: locale.timeFormatLocale
    }).then(function (result) {
      window.cardlakeViews[card.getAttribute("data-chart")] = result.view;
      wire(card, result.view);
      card.setAttribute("data-rendered", "true");
    }).catch(function (error) {
      card.setAttribute("data-rendered", "failed");
      console.error(error);
    });
  });
})();
