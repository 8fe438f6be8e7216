// Keyboard use of the console: "/" search, j/k move, Enter open, Esc leave a field. No data is read here.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-list] > [data-item]"));
  }

  function select(list, index) {
    list.forEach(function (el) { el.classList.remove("selected"); });
    var el = list[index];
    if (!el) return;
    el.classList.add("selected");
    el.scrollIntoView({ block: "nearest" });
  }

  function open(el) {
    var details = el.querySelector("details");
    if (details) { details.open = !details.open; return; }
    var link = el.querySelector("[data-open]") || el.querySelector("a[href]");
    if (link) link.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (event.key === "Escape" && typing(target)) { target.blur(); return; }
    if (typing(target)) return;
    if (target && target.tagName === "SUMMARY" && event.key === "Enter") return;  // the browser toggles it
    var list = items();
    var current = list.findIndex(function (el) { return el.classList.contains("selected"); });
    if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "j" || event.key === "ArrowDown" && current >= 0) {
      if (!list.length) return;
      event.preventDefault();
      select(list, Math.min(list.length - 1, current + 1));
    } else if (event.key === "k" || event.key === "ArrowUp" && current >= 0) {
      if (!list.length) return;
      event.preventDefault();
      select(list, Math.max(0, current - 1));
    } else if ((event.key === "Enter" || event.key === "o") && current >= 0) {
      event.preventDefault();
      open(list[current]);
    }
  });

  window.addEventListener("pageshow", function () {
    // Coming back to a page kept in the browser's cache: its fields were disabled when it was submitted.
    document.querySelectorAll("form[method=get] [disabled]").forEach(function (el) { el.disabled = false; });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll(".type-filter input").forEach(function (el) {
      el.addEventListener("change", function () {
        var query = el.form.querySelector("[name=q]");
        if (query && query.value.trim()) el.form.submit();
      });
    });
    document.querySelectorAll("form[method=get]").forEach(function (form) {
      form.addEventListener("submit", function () {
        // Empty filters stay out of the address, so shared links stay short.
        form.querySelectorAll("input, select").forEach(function (el) {
          if (el.name && el.name !== "q" && !el.value && el.type !== "checkbox") el.disabled = true;
        });
      });
    });
    var toggle = document.querySelector("[data-toggle-all]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var all = document.querySelectorAll(".timeline details");
        var opening = toggle.textContent.indexOf("Expand") === 0;
        all.forEach(function (d) { d.open = opening; });
        toggle.textContent = opening ? "Collapse all" : "Expand all";
      });
    }
    if (document.querySelector("[data-refresh]")) {
      setTimeout(function () { window.location.reload(); }, 3000);
    }
  });
})();
