// Passwordless pages. The magic link's code is in the URL's fragment, which browsers never
// send to a server: copy it into the landing page's form, and show the form (a button, so a
// mail scanner fetching the link cannot spend it). And count down the resend cool-down.
"use strict";
(function () {
  var form = document.querySelector("form[data-dk-link-form]");
  if (form) {
    var code = window.location.hash.replace(/^#/, "");
    var field = form.querySelector("[data-dk-link-code]");
    var noScript = document.querySelector("[data-dk-no-script]");
    if (code && field) {
      field.value = code;
      form.hidden = false;
      if (noScript) { noScript.hidden = true; }
    } else {
      var message = document.querySelector("[data-form-message]");
      if (message) {
        message.textContent = "This link is incomplete. Copy the whole link from the message, or ask for a new one.";
        message.hidden = false;
      }
    }
  }

  var button = document.querySelector("[data-dk-cool-down]");
  if (button) {
    var hint = document.querySelector("[data-dk-cool-down-hint]");
    var seconds = hint ? hint.querySelector("[data-dk-seconds]") : null;
    var timer = null;
    var countDown = function (left) {
      if (timer) { window.clearInterval(timer); }
      var tick = function () {
        button.disabled = left > 0;
        if (hint) { hint.hidden = left <= 0; }
        if (seconds) { seconds.textContent = String(left); }
        left -= 1;
        if (left < 0 && timer) { window.clearInterval(timer); timer = null; }
      };
      tick();
      if (left >= 0) { timer = window.setInterval(tick, 1000); }
    };
    countDown(parseInt(button.getAttribute("data-dk-cool-down"), 10) || 0);
    var resend = button.closest("form");
    if (resend) {
      resend.addEventListener("submit", function () {
        var gap = parseInt(button.getAttribute("data-dk-window"), 10) || 0;
        window.setTimeout(function () { countDown(gap); }, 0);
      });
    }
  }
})();
