// The viewer's one script: the verification button. A run is a POST with the
// X-Lead-Audit header (which a cross-site form cannot send); while it runs,
// the page counts the seconds, against the time the last run's pace gives for
// today's log when there was one, and when it ends the page shows its result.
"use strict";
(function () {
  var button = document.getElementById("verify");
  if (!button) return;
  var progress = document.getElementById("progress");
  button.addEventListener("click", function () {
    var started = Date.now();
    button.disabled = true;
    progress.textContent = "running…";
    var expected = parseFloat(button.getAttribute("data-expected-seconds") || "");
    var timer = setInterval(function () {
      var elapsed = (Date.now() - started) / 1000;
      var text = "running… " + Math.round(elapsed) + " s";
      if (expected > 0) {
        text += " of about " + Math.max(1, Math.round(expected)) + " s (" +
          Math.min(99, Math.round((100 * elapsed) / expected)) + "%)";
      }
      progress.textContent = text;
    }, 1000);
    fetch(button.getAttribute("data-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Lead-Audit": "verify" },
    }).then(function (response) {
      clearInterval(timer);
      if (response.ok) {
        window.location.reload();
      } else {
        button.disabled = false;
        progress.textContent = "the verification could not run (" + response.status + ")";
      }
    }, function () {
      clearInterval(timer);
      button.disabled = false;
      progress.textContent = "the server did not answer";
    });
  });
})();
