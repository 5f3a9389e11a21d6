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
  // Open filter groups push the results below the fold on a phone: open them on wide screens only.
  var wide = window.matchMedia("(min-width: 48rem)").matches;
  // A large index is built in parts (plugins/search/parts.py): the others are merged into this one.
  var merge = (el.getAttribute("data-merge") || "").split(" ").filter(Boolean).map(function (path) {
    return { bundlePath: new URL(path, document.baseURI).href };
  });
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: bundle,
    mergeIndex: merge,
    showImages: false,
    showSubResults: false,
    resetStyles: false,
    openFilters: wide ? ["type", "topic", "design"] : [],
    // Explainers, glossary entries and Methods carry what they are about in their own metadata field
    // (plugins/search/pages.py): a query naming it ranks the explainer first, then the glossary's
    // definition, then cards.  Those fields are for ranking only, not shown under the result.
    ranking: { metaWeights: { explains: 14, defines: 10, describes: 10 } },
    processResult: function (result) {
      delete result.meta.explains;
      delete result.meta.defines;
      delete result.meta.describes;
      return result;
    },
    translations: { placeholder: "Search the atlas", search_label: "Search the atlas" }
  });

  // Pagefind's input has only a title; give it the id the page's visible <label for> names.
  var labelFor = el.getAttribute("data-input-id");
  function labelInput() {
    var input = el.querySelector(".pagefind-ui__search-input");
    if (!input) return false;
    if (labelFor && !input.id) input.id = labelFor;
    var label = labelFor && document.querySelector('label[for="' + labelFor + '"]');
    if (label) label.hidden = false;
    return true;
  }
  if (!labelInput() && "MutationObserver" in window) {
    var observer = new MutationObserver(function () { if (labelInput()) observer.disconnect(); });
    observer.observe(el, { childList: true, subtree: true });
  }

  var params = new URLSearchParams(window.location.search);
  var q = params.get("q");
  if (q) ui.triggerSearch(q);
})();
