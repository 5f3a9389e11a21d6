// The footer's edition sentence on card, listing, withdrawn and out-of-scope pages.  Those pages do
// not carry the date of the last harvest, which changes every night (they would all be rendered and
// uploaded again each night): the build writes it to one small file, edition.json
// (plugins/evidence/edition_file.py), and this puts in the footer the sentence the other pages'
// footer has (theme/templates/_edition.html: edition_short, and the stale warning of
// _freshness.html).  Text only, through textContent; a value of another shape leaves the page's own
// words and link (the no-JavaScript fallback) as they are.
(function () {
  "use strict";
  var holder = document.querySelector("[data-edition]");
  if (!holder || !window.fetch) return;

  var DAY = /^\d{4}-\d{2}-\d{2}$/;
  var STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

  function time(value, shown) {
    var node = document.createElement("time");
    node.setAttribute("datetime", value);
    node.textContent = shown;
    return node;
  }

  // [text or node, ...] for the edition, or null when the file does not hold what the build writes.
  function sentence(ed) {
    if (ed.kind === "snapshot") {
      if (ed.made !== null && !DAY.test(ed.made)) return null;
      var made = ed.made ? [" ", time(ed.made, ed.made)] : [];
      return ["Snapshot edition made"].concat(made, [" from recorded replies; not a live harvest."]);
    }
    if (ed.kind !== "live" || !DAY.test(ed.last_harvest)) return null;
    var parts = ["Last successful harvest: ", time(ed.last_harvest, ed.last_harvest), "."];
    if (ed.stale === true && STAMP.test(ed.newest) && Number.isInteger(ed.age_days)) {
      parts.push(" The newest data on this site are " + ed.age_days + " days old: no harvest has succeeded since ",
                 time(ed.newest, ed.newest.slice(0, 10)),
                 ", so studies and registry changes from the last " + ed.age_days + " days are not shown yet.");
    }
    return parts;
  }

  // no-cache: the pages stay cached, this file is asked for again (a conditional request) each time.
  fetch(holder.getAttribute("data-edition"), {cache: "no-cache", credentials: "same-origin"})
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (ed) {
      var parts = ed && typeof ed === "object" ? sentence(ed) : null;
      if (!parts) return;
      while (holder.firstChild) holder.removeChild(holder.firstChild);
      parts.forEach(function (part) {
        holder.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
      });
    })
    .catch(function () { /* offline or unreadable: the link stays */ });
})();
