// Saves a card's citation as a file.  The text is the build's (harvest/cards/citations.py), carried in the
// button's data-cite-text, so the site has one RIS and one BibTeX formatter; this only hands the
// bytes to the browser as a download.  Without JavaScript the buttons stay hidden.
(function () {
  "use strict";
  function save(button) {
    var text = button.getAttribute("data-cite-text");
    // An attribute cannot hold a CR: the page gives CR LF line ends as LF and says so.
    if (button.hasAttribute("data-cite-crlf")) text = text.replace(/\n/g, "\r\n");
    var blob = new Blob([text], {type: button.getAttribute("data-cite-type")});
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = button.getAttribute("data-cite-file");
    document.body.appendChild(link);
    link.click();
    link.remove();
    // Revoked later, not at once: some browsers start reading the blob after click() returns.
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  document.querySelectorAll("[data-cite-buttons]").forEach(function (holder) {
    holder.querySelectorAll("button[data-cite-text]").forEach(function (button) {
      button.addEventListener("click", function () { save(button); });
    });
    holder.hidden = false;
  });
})();
