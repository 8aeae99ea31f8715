// Small enhancements; every page works without them.
(function () {
  "use strict";

  // A form sent once: its button is disabled while the answer comes, so a double click does not send it twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) { return; }
    if (form.dataset.sent === "yes") { event.preventDefault(); return; }
    form.dataset.sent = "yes";
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.setAttribute("aria-disabled", "true");
      button.classList.add("busy");
    });
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-print]");
    if (target) { window.print(); }
  });

  // A form shown again with problems: the summary takes the focus, so a screen reader reads it first.
  document.addEventListener("DOMContentLoaded", function () {
    var problem = document.getElementById("problem");
    if (problem) { problem.focus(); }
  });
})();
