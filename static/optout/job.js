// A dataset check (/datasets/jobs/<id>/): while the job runs, fetch its status
// again every 1.5 s and swap it in; stop once it is final (or the session has
// ended). A file, not an inline script: the Content-Security-Policy allows
// scripts from this site only.
(function () {
  var box = document.getElementById("job");
  var status = document.getElementById("job-status");
  if (!box || !status) { return; }
  function isFinal() {
    var part = box.querySelector(".job-status");
    return !part || part.getAttribute("data-final") === "1";
  }
  function poll() {
    fetch(box.getAttribute("data-fragment-url"), {
      credentials: "same-origin",
      headers: {"Accept": "text/html"},
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok || response.redirected) {
        throw new Error("job: HTTP " + response.status);
      }
      return response.text();
    }).then(function (html) {
      box.innerHTML = html;
      if (isFinal()) {
        var part = box.querySelector(".job-status");
        status.textContent = "The job has " + part.getAttribute("data-state") + ".";
      } else {
        window.setTimeout(poll, 1500);
      }
    }).catch(function () {
      status.textContent = "Could not refresh the job; reload the page to see the latest.";
    });
  }
  if (!isFinal()) { window.setTimeout(poll, 1500); }
})();
