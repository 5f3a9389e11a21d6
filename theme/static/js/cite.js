// Saves a card's citation as a file.  The bytes are the build's (harvest/cards/citations.py): the page
// carries its RIS and BibTeX as one zlib stream in base64 (data-cite, plugins/evidence/reader.py:
// pack_citations) and data-cite-ris-bytes says where the RIS ends; this only unpacks them and hands
// them to the browser as a download, so the site has one RIS and one BibTeX formatter.  Without
// JavaScript, or without DecompressionStream, the buttons stay hidden.
(function () {
  "use strict";
  if (!("DecompressionStream" in window)) return;

  function unpack(holder) {
    var packed = Uint8Array.from(atob(holder.getAttribute("data-cite")), function (c) { return c.charCodeAt(0); });
    var stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer);
      var end = Number(holder.getAttribute("data-cite-ris-bytes"));
      return {ris: bytes.slice(0, end), bib: bytes.slice(end)};
    });
  }

  function save(bytes, button) {
    var url = URL.createObjectURL(new Blob([bytes], {type: button.getAttribute("data-cite-type")}));
    var link = document.createElement("a");
    link.href = url;
    link.download = button.getAttribute("data-cite-file");
    document.body.appendChild(link);
    link.click();
    link.remove();
    // Revoked later, not at once: some browsers start reading the blob after click() returns.
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  document.querySelectorAll("[data-cite]").forEach(function (holder) {
    // Unpacked when the page loads (a few kB), so a click saves at once, within the click.
    unpack(holder).then(function (parts) {
      holder.querySelectorAll("button[data-cite-part]").forEach(function (button) {
        button.addEventListener("click", function () { save(parts[button.getAttribute("data-cite-part")], button); });
      });
      holder.hidden = false;
    });
  });
})();
