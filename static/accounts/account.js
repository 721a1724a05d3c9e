// The account page: focusing the new API token's field selects the whole key,
// ready to copy. A file, not an onfocus attribute: the Content-Security-Policy
// runs no inline script.
(function () {
  var field = document.getElementById("new-key");
  if (field) {
    field.addEventListener("focus", function () { field.select(); });
  }
})();
