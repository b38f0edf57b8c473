/* Field errors clear once the field is fixed: when a field shown with an error (aria-invalid, or inside a
   .field.has-error) gets a new value the browser accepts, its error text, aria-invalid and the field's
   has-error mark go away. The server checks again on submit. No inline script (CSP). */
(function () {
  "use strict";
  var shown = new WeakMap();  /* the value each erring field had when the page showed its error */

  function errorsOf(el) {
    var found = [];
    var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/);
    ids.forEach(function (id) {
      if (/[-_]error$/.test(id)) {
        var node = document.getElementById(id);
        if (node) found.push(node);
      }
    });
    if (el.id) {
      [el.id + "_error", el.id + "-error"].forEach(function (id) {
        var node = document.getElementById(id);
        if (node && found.indexOf(node) < 0) found.push(node);
      });
    }
    return found;
  }

  function erring(el) {
    if (!el || !el.matches || !el.matches("input, select, textarea")) return false;
    if (el.getAttribute("aria-invalid") === "true") return true;
    var field = el.closest(".field.has-error");
    return !!field && errorsOf(el).length > 0;
  }

  function valueOf(el) {
    if (el.type === "checkbox" || el.type === "radio") return String(el.checked);
    return el.value;
  }

  function clear(el) {
    errorsOf(el).forEach(function (node) { node.remove(); });
    el.removeAttribute("aria-invalid");
    var described = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && !/[-_]error$/.test(id);
    });
    if (described.length) el.setAttribute("aria-describedby", described.join(" "));
    else el.removeAttribute("aria-describedby");
    var field = el.closest(".field.has-error");
    if (field && !field.querySelector("[aria-invalid=true], .field-error")) field.classList.remove("has-error");
  }

  function fixed(event) {
    var el = event.target;
    if (!erring(el)) return;
    if (shown.has(el) && shown.get(el) === valueOf(el)) return;  /* back to the value that was refused */
    if (el.checkValidity && !el.checkValidity()) return;  /* the pattern (YYYY-MM-DD) does not match yet */
    clear(el);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (erring(el)) shown.set(el, valueOf(el));
    });
  });
  document.addEventListener("input", fixed);
  document.addEventListener("change", fixed);
})();
