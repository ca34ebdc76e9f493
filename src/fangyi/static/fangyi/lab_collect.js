/* Collection pages, for scanners and phones. A scanner types a code and Enter:
   - in a tube's barcode, Enter goes on to the form's next scan field (the person, or what
     was swabbed) instead of submitting half a form;
   - on a pooled tube's page each scanned person is sent in the background, one after the
     other, and the field is emptied at once so the next scan can follow without waiting;
     each outcome is listed, and a full tube hands the focus to the next tube's barcode.
   Without this script every form still works by plain posts. */
(function () {
  "use strict";

  // A field focused after a refusal holds the refused code: a new scan replaces it.
  function selectFocused() {
    var field = document.activeElement;
    if (field && field.tagName === "INPUT" && field.value && field.select) {
      field.select();
    }
  }

  function barcodeGoesOn(form) {
    var barcode = form.querySelector("input[name=barcode]");
    var next = document.getElementById(form.getAttribute("data-after-barcode") || "");
    if (!barcode || !next) {
      return;
    }
    barcode.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) {
        return;
      }
      event.preventDefault();
      if (barcode.value.trim()) {
        next.focus();
        if (next.select) {
          next.select();
        }
      }
    });
  }

  function scanIntoTube(form) {
    var members = document.getElementById("tube-members");
    var input = form.querySelector("input[name=person]");
    var log = document.getElementById("scan-log");
    if (!members || !input || !window.fetch || !window.FormData) {
      return;
    }
    var queue = Promise.resolve();

    function note(text, failed) {
      if (!log) {
        return;
      }
      var item = document.createElement("li");
      item.textContent = text;
      if (failed) {
        item.className = "errorlist";
      }
      log.insertBefore(item, log.firstChild);
    }

    function show(html) {
      members.innerHTML = html;
      var outcome = members.querySelector("#scan-outcome");
      if (outcome) {
        // The outcome goes to the list of scans (newest first) instead of standing twice.
        note(outcome.textContent.replace(/\s+/g, " ").trim(), outcome.getAttribute("role") === "alert");
        outcome.parentNode.removeChild(outcome);
      }
      if (members.querySelector("#tube-full")) {
        form.hidden = true;
        var next = document.getElementById("next-tube-barcode");
        if (next) {
          next.focus();
        }
      }
    }

    function send(data) {
      return fetch(form.action, {
        method: "POST",
        body: data,
        headers: { "HX-Request": "true" },
        credentials: "same-origin"
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.text();
        })
        .then(show)
        .catch(function () {
          note(form.getAttribute("data-failed") || "!", true);
        });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form, event.submitter || undefined);
      if (!String(data.get("person") || "").trim() && !data.get("person_pk")) {
        return;
      }
      input.value = "";
      input.focus();
      queue = queue.then(function () {
        return send(data);
      });
    });
  }

  function start() {
    var forms = document.querySelectorAll("form.scan-form");
    for (var i = 0; i < forms.length; i++) {
      barcodeGoesOn(forms[i]);
    }
    var tube = document.getElementById("member-form");
    if (tube) {
      scanIntoTube(tube);
    }
    selectFocused();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
