// Each theme colour: a #RRGGBB box kept in step with its colour picker, and its contrast shown as you type
// (WCAG 2.1, as generator/content/colours.py computes it).
(function () {
  "use strict";
  function channel(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
  // "#005EB8" or "005eb8" (as the server accepts them) -> "#005eb8"; anything else -> null
  function hex(text) {
    var m = /^\s*#?([0-9a-f]{6})\s*$/i.exec(text);
    return m ? "#" + m[1].toLowerCase() : null;
  }
  function luminance(colour) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour || "");
    if (!m) { return null; }
    return 0.2126 * channel(parseInt(m[1], 16)) + 0.7152 * channel(parseInt(m[2], 16)) + 0.0722 * channel(parseInt(m[3], 16));
  }
  function show(input) {
    var out = document.getElementById(input.dataset.output);
    var a = luminance(hex(input.value)), b = luminance(input.dataset.against);
    if (a === null || b === null) {
      out.textContent = "not a colour: write it as #RRGGBB (e.g. #005EB8)";
      out.className = "fail";
      return;
    }
    var ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    var against = input.dataset.against.toUpperCase() === "#FFFFFF" ? "white" : "body text";
    out.textContent = "contrast with " + against + " " + ratio.toFixed(2) + ":1 " +
      (ratio >= 4.5 ? "(passes WCAG AA)" : "(below the WCAG AA minimum of 4.5:1)");
    out.className = ratio >= 4.5 ? "pass" : "fail";
  }
  document.querySelectorAll("input[data-against]").forEach(function (box) {
    var picker = document.getElementById(box.dataset.picker);
    box.addEventListener("input", function () {
      var colour = hex(box.value);
      if (picker && colour) { picker.value = colour; }
      show(box);
    });
    if (picker) {
      picker.addEventListener("input", function () {
        box.value = picker.value.toUpperCase();
        show(box);
      });
    }
    show(box);
  });
}());
