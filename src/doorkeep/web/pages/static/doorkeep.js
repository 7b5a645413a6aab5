// Progressive enhancement of doorkeep's forms: submit in the background and show
// errors next to their fields. Without this script the same forms post normally.
"use strict";
(function () {
  function show(form, body) {
    var card = form.closest("main") || document;
    var message = card.querySelector("[data-form-message]");
    var notice = card.querySelector("[data-form-notice]");
    var errors = body.errors || {};
    form.querySelectorAll("[data-error-for]").forEach(function (slot) {
      var name = slot.getAttribute("data-error-for");
      var input = form.querySelector('[name="' + name + '"]');
      var text = errors[name] || "";
      slot.textContent = text;
      slot.hidden = !text;
      if (input) {
        if (text) { input.setAttribute("aria-invalid", "true"); }
        else { input.removeAttribute("aria-invalid"); }
      }
    });
    if (message) { message.textContent = body.message || ""; message.hidden = !body.message; }
    if (notice) { notice.textContent = body.notice || ""; notice.hidden = !body.notice; }
    var firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) { firstInvalid.focus(); }
    if (body.ok) {
      form.querySelectorAll('input[type="password"], input[type="email"]').forEach(function (i) {
        i.value = "";
      });
    }
  }

  function enhance(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector('[type="submit"]');
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.redirect) { window.location.assign(body.redirect); return; }
          show(form, body);
          if (button) { button.disabled = false; }
        })
        .catch(function () { form.submit(); });  // fall back to the plain post
    });
  }

  document.querySelectorAll("form[data-dk-form]").forEach(enhance);
  document.documentElement.setAttribute("data-dk-enhanced", "true");
})();
