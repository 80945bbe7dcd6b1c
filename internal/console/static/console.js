// brokerguard console: the little script it has, loaded from this origin (the CSP allows no inline
// script). Everything works without it.
"use strict";
document.documentElement.dataset.js = "on";
document.addEventListener("DOMContentLoaded", function () {
  // The alert queue's kind filter applies as soon as it is chosen.
  ["filter-kind", "filter-status"].forEach(function (id) {
    var sel = document.getElementById(id);
    if (sel && sel.form) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    }
  });
  // The account search goes straight to the account's page.
  var search = document.querySelector("form[data-account-search]");
  if (search) {
    search.addEventListener("submit", function (e) {
      var v = search.querySelector("input[name=account]").value.trim();
      if (v) { e.preventDefault(); window.location.href = "/accounts/" + encodeURIComponent(v); }
    });
  }
});
