// The search page (theme/templates/search.html) on Pagefind's JavaScript API; a file because the CSP
// forbids inline scripts.  What a reader downloads for a first search is what this script is built
// around (bench/firstsearch.py measures it):
// - Pagefind starts when the reader first uses the box (or the page opens with ?q=), without its web
//   worker (one script fewer; a search of one part takes milliseconds on the page's own thread);
// - a large index comes in parts (plugins/search/parts.py).  A query searches the first part, which
//   holds the explainers, glossary and Methods and a fixed share of the cards; the other parts are
//   merged when the reader asks for every card, opens a filter, or the first part finds less than a
//   page of results.  Every Pagefind index costs a few bytes per page before a word is searched, so
//   one query over all parts of a very large atlas costs several times what one part does;
// - filter values load when the reader opens a filter (Pagefind's filters() fetches every filter file).
(function () {
  "use strict";
  var root = document.getElementById("search");
  if (!root) return;
  var form = root.querySelector(".search-form");
  var input = root.querySelector(".search-input");
  var summary = root.querySelector(".search-summary");
  var scope = root.querySelector(".search-scope");
  var allButton = root.querySelector(".search-all");
  var list = root.querySelector(".search-results");
  var more = root.querySelector(".search-more");
  var groups = Array.prototype.slice.call(root.querySelectorAll(".search-filter"));
  root.hidden = false;

  var PAGE = 5;
  // Explainers, glossary entries and Methods carry what they are about in their own metadata field
  // (plugins/search/pages.py): a query naming it ranks the explainer first, then the glossary's
  // definition, then cards.  Those fields rank; they are not shown.
  var RANKING = { metaWeights: { explains: 14, defines: 10, describes: 10 } };
  var HIDDEN_META = { title: 1, url: 1, image: 1, explains: 1, defines: 1, describes: 1 };
  var META_ORDER = ["type", "design", "year", "started"];
  function order(key) { var i = META_ORDER.indexOf(key); return i < 0 ? META_ORDER.length : i; }
  // Absolute URLs: Pagefind loads its files relative to the bundle, not to this page.
  var bundle = new URL(root.getAttribute("data-bundle") || "/pagefind/", document.baseURI).href;
  var parts = (root.getAttribute("data-merge") || "").split(" ").filter(Boolean).map(function (path) {
    return new URL(path, document.baseURI).href;
  });
  var cards = parseInt(root.getAttribute("data-cards"), 10) || 0;
  var firstCards = parseInt(root.getAttribute("data-first-cards"), 10) || 0;
  var number = new Intl.NumberFormat("en");

  var pagefind = null, starting = null, merging = null, merged = parts.length === 0;
  var filterValues = null, loadingFilters = null;
  var selected = {};            // filter name -> {value: true}
  var seq = 0, results = [], shown = 0, lastCounts = null;

  function start() {
    if (!starting) {
      starting = import(bundle + "pagefind.js").then(function (module) {
        pagefind = module.createInstance({ basePath: bundle, noWorker: true, excerptLength: 30, ranking: RANKING });
        return pagefind.init();
      });
    }
    return starting;
  }

  function mergeAll() {
    if (merged) return Promise.resolve();
    if (!merging) {
      merging = start().then(function () {
        return Promise.all(parts.map(function (url) {
          return pagefind.mergeIndex(url, { ranking: RANKING, excerptLength: 30 });
        }));
      }).then(function () { merged = true; });
    }
    return merging;
  }

  function chosen() {
    var filters = {}, any = false;
    Object.keys(selected).forEach(function (name) {
      var values = Object.keys(selected[name]).filter(function (v) { return selected[name][v]; });
      // Every ticked value must hold, as in Pagefind's own UI, so each count says what ticking adds.
      if (values.length) { filters[name] = values; any = true; }
    });
    return any ? filters : null;
  }

  function say(text) { summary.textContent = text; }

  function run() {
    var id = ++seq;
    var term = input.value.trim();
    var filters = chosen();
    if (!term && !filters) {
      results = []; shown = 0; list.textContent = ""; more.hidden = true; scope.hidden = true; say("");
      return Promise.resolve();
    }
    say("Searching…");
    // The address names the query, so a reader can go back to it or pass it on.
    if (window.history && history.replaceState) {
      history.replaceState(null, "", term ? "?q=" + encodeURIComponent(term) : window.location.pathname);
    }
    return start().then(function () {
      return pagefind.search(term || null, { filters: filters || {} });
    }).then(function (found) {
      if (id !== seq || !found) return null;
      if (!merged && found.results.length < PAGE) {
        // The first part found little: the reader is looking for something rarer, search it all.
        return mergeAll().then(function () { return id === seq ? run() : null; });
      }
      results = found.results; shown = 0; list.textContent = "";
      if (filterValues) { lastCounts = filters || term ? found.filters : null; showCounts(); }
      var n = results.length;
      var what = term ? " for “" + term + "”" : "";
      var text = n === 0 ? "No results" + what + "." : number.format(n) + (n === 1 ? " result" : " results") + what;
      if (n && !merged && cards > firstCards) {
        text += ", searching " + number.format(firstCards) + " of the " + number.format(cards) + " evidence cards and every explainer and glossary entry.";
      } else if (n) {
        text += ".";
      }
      say(text);
      scope.hidden = merged;
      if (!merged) allButton.textContent = "Search all " + number.format(cards) + " evidence cards";
      return showMore(id);
    }).catch(function (err) {
      if (id === seq) say("The search index could not be loaded. Browse the evidence from each treatment page instead.");
      throw err;
    });
  }

  function showMore(id) {
    var batch = results.slice(shown, shown + PAGE);
    shown += batch.length;
    more.hidden = shown >= results.length;
    return Promise.all(batch.map(function (r) { return r.data(); })).then(function (docs) {
      if (id !== seq) return;
      docs.forEach(function (doc) { list.appendChild(render(doc)); });
    });
  }

  // Pagefind's excerpt is the indexed text with <mark> around the matched words: keep exactly those
  // marks and everything else as text (harvested titles and abstracts are untrusted).
  function excerpt(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var out = document.createElement("p");
    out.className = "search-result-excerpt";
    Array.prototype.forEach.call(holder.content.childNodes, function (node) {
      if (node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.appendChild(mark);
      } else {
        out.appendChild(document.createTextNode(node.textContent));
      }
    });
    return out;
  }

  function render(doc) {
    var item = document.createElement("li");
    item.className = "search-result";
    var heading = document.createElement("p");
    heading.className = "search-result-title";
    var link = document.createElement("a");
    link.className = "search-result-link";
    link.href = doc.meta.url || doc.url;
    link.textContent = doc.meta.title || doc.url;
    heading.appendChild(link);
    item.appendChild(heading);
    item.appendChild(excerpt(doc.excerpt || ""));
    var tags = document.createElement("ul");
    tags.className = "search-result-tags";
    Object.keys(doc.meta).sort(function (a, b) { return order(a) - order(b); }).forEach(function (key) {
      if (HIDDEN_META[key]) return;
      var tag = document.createElement("li");
      tag.textContent = key.charAt(0).toUpperCase() + key.slice(1) + ": " + doc.meta[key];
      tags.appendChild(tag);
    });
    if (tags.childNodes.length) item.appendChild(tags);
    return item;
  }

  // --- filters ---------------------------------------------------------------------------------

  function loadFilters() {
    if (!loadingFilters) {
      // Counts over every card: all parts first.
      loadingFilters = mergeAll().then(function () { return pagefind.filters(); }).then(function (values) {
        filterValues = values;
        groups.forEach(buildGroup);
        lastCounts = null;
        showCounts();
        return run();
      });
    }
    return loadingFilters;
  }

  function sortedValues(name, values) {
    var keys = Object.keys(values);
    if (name === "year") return keys.sort(function (a, b) { return b.localeCompare(a); });
    return keys.sort(function (a, b) { return a.localeCompare(b); });
  }

  function buildGroup(group) {
    var name = group.getAttribute("data-filter");
    var box = group.querySelector(".search-filter-values");
    var values = filterValues[name] || {};
    var holder = document.createElement("div");
    holder.className = "search-filter-values";
    sortedValues(name, values).forEach(function (value) {
      var label = document.createElement("label");
      label.className = "search-filter-option";
      var tick = document.createElement("input");
      tick.type = "checkbox";
      tick.className = "search-filter-checkbox";
      tick.name = name;
      tick.value = value;
      tick.addEventListener("change", function () {
        selected[name] = selected[name] || {};
        selected[name][value] = tick.checked;
        run();
      });
      var text = document.createElement("span");
      text.textContent = value + " ";
      var count = document.createElement("span");
      count.className = "search-filter-count";
      text.appendChild(count);
      label.appendChild(tick);
      label.appendChild(text);
      holder.appendChild(label);
    });
    if (!holder.childNodes.length) holder.textContent = "No choices.";
    box.parentNode.replaceChild(holder, box);
  }

  function showCounts() {
    var counts = lastCounts || filterValues;
    Array.prototype.forEach.call(root.querySelectorAll(".search-filter-checkbox"), function (tick) {
      var n = (counts[tick.name] || {})[tick.value] || 0;
      tick.parentNode.querySelector(".search-filter-count").textContent = "(" + number.format(n) + ")";
    });
  }

  groups.forEach(function (group) {
    group.addEventListener("toggle", function () {
      if (group.open) loadFilters();
    });
  });

  // --- the box ---------------------------------------------------------------------------------

  var timer = null;
  input.addEventListener("focus", start);
  input.addEventListener("input", function () {
    start();
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    run();
  });
  more.addEventListener("click", function () { showMore(seq); });
  allButton.addEventListener("click", function () {
    allButton.disabled = true;
    mergeAll().then(run).then(function () { allButton.disabled = false; });
  });

  var q = new URLSearchParams(window.location.search).get("q");
  if (q) {
    input.value = q;
    run();
  }
})();
