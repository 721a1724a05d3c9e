// The search page: the header checkbox selects every row of the page.
(function () {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", function () {
    for (const box of document.querySelectorAll('input[name="pick"]')) {
      box.checked = all.checked;
    }
  });
})();
