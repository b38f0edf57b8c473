/* Progressive enhancement for the GUI: row expanders, Actions menus, chart read-outs, live hints on Report usage,
   select-all for bulk decisions. Every page works without it; events are delegated so content
   swapped in by htmx needs no re-binding. */
(function () {
  "use strict";

  function closeMenus(except) {
    document.querySelectorAll(".menu-button[aria-expanded=true]").forEach(function (button) {
      if (button === except) return;
      button.setAttribute("aria-expanded", "false");
      var list = document.getElementById(button.getAttribute("aria-controls"));
      if (list) list.hidden = true;
    });
  }

  function items(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[role=menuitem]"));
  }

  function openMenu(button, focusLast) {
    closeMenus(button);
    var list = document.getElementById(button.getAttribute("aria-controls"));
    if (!list) return;
    button.setAttribute("aria-expanded", "true");
    list.hidden = false;
    var all = items(list);
    var enabled = all.filter(function (el) { return el.getAttribute("aria-disabled") !== "true"; });
    var target = focusLast ? all[all.length - 1] : (enabled[0] || all[0]);
    if (target) target.focus();
  }

  /* Charts: the month focused (Tab, then the arrow keys) or tapped is read out under the chart. */
  function showMonth(month) {
    var svg = month.ownerSVGElement;
    svg.querySelectorAll(".month").forEach(function (other) {
      other.classList.toggle("chosen", other === month);
      other.setAttribute("tabindex", other === month ? "0" : "-1");
    });
    var figure = svg.closest("figure");
    var readout = figure && figure.nextElementSibling;
    if (readout && readout.hasAttribute("data-chart-readout")) readout.textContent = month.getAttribute("aria-label");
  }
  document.addEventListener("focusin", function (event) {
    var month = event.target.closest && event.target.closest(".chart .month");
    if (month) showMonth(month);
  });

  document.addEventListener("click", function (event) {
    var month = event.target.closest(".chart .month");
    if (month) { month.focus(); showMonth(month); return; }
    var expander = event.target.closest(".expander");
    if (expander) {
      var open = expander.getAttribute("aria-expanded") !== "true";
      expander.setAttribute("aria-expanded", open ? "true" : "false");
      var row = document.getElementById(expander.getAttribute("aria-controls"));
      if (row) row.hidden = !open;
      return;
    }
    var button = event.target.closest(".menu-button");
    if (button) {
      if (button.getAttribute("aria-expanded") === "true") closeMenus();
      else openMenu(button, false);
      return;
    }
    var disabled = event.target.closest("[role=menuitem][aria-disabled=true]");
    if (disabled) { event.preventDefault(); return; }
    if (!event.target.closest(".menu-list")) closeMenus();
  });

  document.addEventListener("keydown", function (event) {
    var month = event.target.closest && event.target.closest(".chart .month");
    if (month && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].indexOf(event.key) >= 0) {
      event.preventDefault();
      var months = Array.prototype.slice.call(month.ownerSVGElement.querySelectorAll(".month"));
      var at = months.indexOf(month);
      var to = event.key === "Home" ? 0 : event.key === "End" ? months.length - 1 :
        Math.max(0, Math.min(months.length - 1, at + (event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 1)));
      months[to].focus();
      return;
    }
    var button = event.target.closest && event.target.closest(".menu-button");
    if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      openMenu(button, event.key === "ArrowUp");
      return;
    }
    var list = event.target.closest && event.target.closest(".menu-list");
    if (!list) return;
    var all = items(list);
    var index = all.indexOf(document.activeElement);
    var owner = document.querySelector("[aria-controls='" + list.id + "']");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      all[(index + step + all.length) % all.length].focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      all[event.key === "Home" ? 0 : all.length - 1].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeMenus();
      if (owner) owner.focus();
    } else if (event.key === "Tab") {
      closeMenus();
    } else if ((event.key === "Enter" || event.key === " ") && document.activeElement.getAttribute("aria-disabled") === "true") {
      event.preventDefault();
    } else if (event.key === " " && document.activeElement.getAttribute("role") === "menuitem") {
      /* A menu item is a link: Enter follows it natively, Space does here (as the ARIA menu pattern asks). */
      event.preventDefault();
      document.activeElement.click();
    }
  });

  /* Report usage: "% of limit after this report", the value stored for the chosen month, per-user running total. */
  function parse(text) {
    var value = parseFloat(String(text || "").replace(",", "."));
    return isNaN(value) ? null : value;
  }
  /* An amount the server accepts: not negative, at most two decimals (a comma counts as the point). */
  var AMOUNT = /^\s*\d+(?:[.,]\d{0,2})?\s*$/;
  function fmt(value) {
    return value.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function updateReport(form, edited) {
    var monthSelect = form.querySelector("select[name=month]");
    var month = monthSelect ? monthSelect.value : "";
    form.querySelectorAll(".component-row").forEach(function (row) {
      /* What may not be reported for the chosen month is disabled, with the reason shown. */
      var refused = "", corrected = false;
      try {
        refused = JSON.parse(row.dataset.refused || "{}")[month] || "";
        corrected = JSON.parse(row.dataset.corrected || "[]").indexOf(month) >= 0;
      } catch (e) { refused = ""; }
      row.querySelectorAll("input, textarea").forEach(function (input) { input.disabled = refused !== ""; });
      var refusalEl = row.querySelector(".refusal");
      if (refusalEl) { refusalEl.textContent = refused; refusalEl.hidden = refused === ""; }
      var note = row.querySelector(".correction-note");
      if (note) note.hidden = !corrected;
      var stored = {};
      try { stored = JSON.parse(row.dataset.stored || "{}"); } catch (e) { stored = {}; }
      var unit = row.dataset.unit || "";
      var storedValue = stored[month] !== undefined ? parseFloat(stored[month]) : null;
      var amountInput = row.querySelector(".amount input");
      var raw = amountInput ? amountInput.value.trim() : "";
      var invalid = raw !== "" && !AMOUNT.test(raw);
      /* A server error beside the amount goes once the amount is edited into one the server takes. */
      if (amountInput && amountInput === edited && raw !== "" && !invalid && amountInput.getAttribute("aria-invalid") === "true") {
        amountInput.removeAttribute("aria-invalid");
        var error = document.getElementById(amountInput.id + "-error");
        if (error) error.hidden = true;
        var field = amountInput.closest(".field");
        if (field) field.classList.remove("has-error");
      }
      var amount = invalid ? null : parse(raw);
      var storedEl = row.querySelector(".stored");
      if (storedEl) {
        var text = storedValue === null ? "nothing" : fmt(storedValue) + " " + unit;
        if (invalid) text += "; the amount must be a number of at least 0 with at most 2 decimals";
        else if (amount !== null) {
          if (storedValue === null) text += "; this report adds " + fmt(amount) + " " + unit;
          else {
            var delta = amount - storedValue;
            text += "; this report replaces it with " + fmt(amount) + " " + unit +
              " (" + (delta >= 0 ? "+" : "−") + fmt(Math.abs(delta)) + ")";
          }
        }
        storedEl.textContent = text;
      }
      var pctEl = row.querySelector(".pct");
      var limit = parse(row.dataset.limit);
      if (pctEl && limit !== null) {
        if (amount === null) {
          pctEl.textContent = "enter an amount to see the % of limit after this report";
          pctEl.className = "pct";
        } else {
          var used = parse(row.dataset.used) || 0;
          var after = row.dataset.monthly === "1" ? amount : used - (storedValue || 0) + amount;
          var pct = limit > 0 ? Math.floor(after * 100 / limit) : (after > 0 ? 100 : 0);
          pctEl.textContent = pct + " % of limit after this report" + (pct > 100 ? " — warning: above the limit" : "");
          pctEl.className = pct > 100 ? "pct warn" : "pct";
        }
      }
      var storedUsers = {};
      try { storedUsers = JSON.parse(row.dataset.storedUsers || "{}")[month] || {}; } catch (e) { storedUsers = {}; }
      var monthLabel = monthSelect ? monthSelect.options[monthSelect.selectedIndex].text.replace(/ \(.*\)$/, "") : "";
      var storedNames = Object.keys(storedUsers);
      var storedList = row.querySelector(".stored-users");
      if (storedList) {
        storedList.textContent = storedNames.length ? "Stored for " + monthLabel + ": " + storedNames.map(function (u) {
          return u + " " + fmt(parseFloat(storedUsers[u]));
        }).join(", ") + "." : "";
      }
      var sum = 0, any = false, listed = {};
      row.querySelectorAll(".user-grid tbody tr").forEach(function (tr) {
        var inputs = tr.querySelectorAll("input");
        var name = inputs[0] ? inputs[0].value.trim() : "";
        var v = inputs[1] ? parse(inputs[1].value) : null;
        if (name) listed[name] = true;
        if (v !== null) { sum += v; any = true; }
      });
      /* Users left out of the grid keep their stored amounts: count them, so the sum is what will be stored. */
      var kept = 0, keptNames = [];
      if (any) {
        storedNames.forEach(function (u) {
          if (!listed[u]) { kept += parseFloat(storedUsers[u]); keptNames.push(u); }
        });
      }
      sum += kept;
      var running = row.querySelector(".running");
      if (running) {
        var text = fmt(sum) + " " + unit;
        if (kept) text += " (with " + fmt(kept) + " kept for " + keptNames.join(", ") + ")";
        if (amount !== null) {
          text += " of the total " + fmt(amount) + " " + unit;
          if (any && Math.abs(sum - amount) > 0.001) text += sum > amount ? " (users exceed the total)" : " (less than the total)";
          else if (any) text += " (matches)";
        }
        running.textContent = text;
      }
    });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest(".report-form");
    if (form) updateReport(form, event.target);
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest(".report-form");
    if (form) updateReport(form);
    if (event.target.classList && event.target.classList.contains("select-all")) {
      var table = document.getElementById(event.target.getAttribute("aria-controls"));
      if (table) table.querySelectorAll("input[name=order]").forEach(function (box) { box.checked = event.target.checked; });
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".report-form").forEach(updateReport);
  });
})();
