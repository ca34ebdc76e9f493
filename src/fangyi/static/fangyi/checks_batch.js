/* Batch entry of health checks: keyboard-fast. Enter or Tab in a temperature goes to the
   next person's temperature (Shift+Tab still goes back through the row); Enter in the last
   one goes to the save button. After a refused batch, the first row in error is focused. */
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("batch-checks");
    if (!form) {
      return;
    }
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input.temperature"));
    var firstError = form.querySelector("tr.row-error input.temperature");
    if (firstError) {
      firstError.focus();
    }
    form.addEventListener("keydown", function (event) {
      var index = inputs.indexOf(event.target);
      var forward = event.key === "Enter" || (event.key === "Tab" && !event.shiftKey);
      if (index < 0 || !forward || event.isComposing) {
        return;
      }
      var next = inputs[index + 1] || document.getElementById("batch-save");
      if (!next) {
        return;
      }
      event.preventDefault();
      next.focus();
      if (next.select) {
        next.select();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
