// Starts Pagefind's search UI on /search/ (loaded as a file: the CSP forbids inline scripts).
(function () {
  "use strict";
  var el = document.getElementById("search");
  if (!el) return;
  if (typeof PagefindUI === "undefined") {
    el.textContent = "The search index is not available. Browse the evidence from each treatment page instead.";
    return;
  }
  // Absolute URL: Pagefind imports its bundle relative to its own script, not to this page.
  var bundle = new URL(el.getAttribute("data-bundle") || "/pagefind/", document.baseURI).href;
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: bundle,
    showImages: false,
    showSubResults: false,
    resetStyles: false,
    openFilters: ["topic", "design"],
    translations: { placeholder: "Search studies and trials", search_label: "Search studies and trials" }
  });
  var params = new URLSearchParams(window.location.search);
  var q = params.get("q");
  if (q) ui.triggerSearch(q);
})();
