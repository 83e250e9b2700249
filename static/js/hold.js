// The hold page (templates/pages/reservations/detail.html): warnings before the hold runs
// out, and the checkout form kept as typed. The page works without this file: the Pay
// button keeps the form too, and the countdown still counts (busbook.js).
(function () {
  "use strict";

  // Warned once each, the most urgent threshold passed only (a page opened with 20 s left
  // says the 30-second warning, not both). Screen readers hear a region's text once; the
  // timer itself is aria-live="off", so the seconds are never read out.
  var WARNINGS = [
    { at: 120, live: "polite", level: "soon",
      text: "Less than 2 minutes left to pay. When the time runs out, the seats are released." },
    { at: 30, live: "assertive", level: "urgent",
      text: "Less than 30 seconds left: pay now or the seats are released." }
  ];

  // The form as typed is kept on the hold (POST …/draft): a reload, a declined payment or
  // an expired hold held again start from it.
  function draftKeeper() {
    var form = document.querySelector("form.checkout-form[data-draft-url]");
    if (!form) return null;
    var timer = null;
    function save() {
      clearTimeout(timer);
      timer = null;
      return fetch(form.dataset.draftUrl, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        keepalive: true
      }).catch(function () { /* the draft only helps; paying never depends on it */ });
    }
    function later(ms) { clearTimeout(timer); timer = setTimeout(save, ms); }
    form.addEventListener("input", function () { later(1000); });
    form.addEventListener("change", function () { later(200); });
    return save;
  }

  function watch(el, saveDraft) {
    var warned = 0;  // the lowest threshold announced so far (0: none)
    el.addEventListener("countdown:tick", function (e) {
      var left = e.detail.left, due = null;
      if (left <= 0) return;
      WARNINGS.forEach(function (w) { if (left <= w.at) due = w; });
      if (!due || (warned && warned <= due.at)) return;
      warned = due.at;
      el.dataset.warning = due.level;
      el.querySelectorAll("[data-countdown-notice]").forEach(function (region) {
        region.textContent = region.dataset.countdownNotice === due.live ? due.text : "";
      });
    });
    el.addEventListener("countdown:expired", function (e) {
      if (saveDraft) e.detail.wait.push(saveDraft());
    });
  }

  // Deferred, this runs before busbook.js starts the countdowns (on DOMContentLoaded), so
  // the first tick is heard.
  var saveDraft = draftKeeper();
  document.querySelectorAll(".hold-timer[data-countdown]").forEach(function (el) {
    watch(el, saveDraft);
  });
})();
