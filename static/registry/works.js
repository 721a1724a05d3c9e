// Your works (/works/): while images are being fingerprinted, fetch the list
// again every 1.5 s and swap it in; stop once nothing is pending (or the
// session has ended). A file, not an inline script: the Content-Security-Policy
// allows scripts from this site only.
(function () {
  var box = document.getElementById("works");
  var status = document.getElementById("works-status");
  if (!box || !status) { return; }
  function pending() {
    var list = box.querySelector(".works-list");
    return list ? parseInt(list.getAttribute("data-pending"), 10) || 0 : 0;
  }
  function poll() {
    fetch(box.getAttribute("data-fragment-url"), {
      credentials: "same-origin",
      headers: {"Accept": "text/html"},
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok || response.redirected) {
        throw new Error("works list: HTTP " + response.status);
      }
      return response.text();
    }).then(function (html) {
      var before = pending();
      box.innerHTML = html;
      var after = pending();
      if (after === 0 && before > 0) {
        status.textContent = "All images are fingerprinted.";
      }
      if (after > 0) { window.setTimeout(poll, 1500); }
    }).catch(function () {
      status.textContent = "Could not refresh the list; reload the page to see the latest.";
    });
  }
  if (pending() > 0) { window.setTimeout(poll, 1500); }
})();
