// Busbook's small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Countdowns follow the server's expiry time, corrected for this device's clock.
  function startCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var expires = Date.parse(el.dataset.expiresAt);
      var skew = Date.parse(el.dataset.serverNow) - Date.now();
      var out = el.querySelector("[data-countdown-time]");
      function tick() {
        var left = Math.max(0, Math.round((expires - (Date.now() + skew)) / 1000));
        var m = Math.floor(left / 60), s = left % 60;
        out.textContent = m + ":" + String(s).padStart(2, "0");
        if (left <= 0) {
          clearInterval(timer);
          out.textContent = "expired";
          setTimeout(function () { location.reload(); }, 800);
        }
      }
      var timer = setInterval(tick, 1000);
      tick();
    });
  }

  // The seat picker: remember the selection across live updates and show the total.
  function seatPicker() {
    var form = document.querySelector("form.hold-form");
    if (!form) return;
    var max = parseInt(form.dataset.maxSeats || "6", 10);
    var summary = document.getElementById("selection-summary");
    var chosen = new Set();
    form.querySelectorAll("input[name=seat_ids]:checked").forEach(function (i) { chosen.add(i.value); });

    function refresh() {
      var total = 0, numbers = [];
      form.querySelectorAll("input[name=seat_ids]").forEach(function (input) {
        var seat = input.closest("[data-seat-number]");
        if (input.disabled) { chosen.delete(input.value); input.checked = false; return; }
        input.checked = chosen.has(input.value);
        if (input.checked) { total += parseFloat(seat.dataset.fare); numbers.push(seat.dataset.seatNumber); }
      });
      if (!summary) return;
      summary.textContent = numbers.length
        ? numbers.length + (numbers.length === 1 ? " seat" : " seats") + " (" + numbers.join(", ") + "): ₹" + total.toLocaleString("en-IN")
        : "Pick up to " + max + " seats.";
    }
    form.addEventListener("change", function (e) {
      if (e.target.name !== "seat_ids") return;
      if (e.target.checked) {
        if (chosen.size >= max) { e.target.checked = false; summary.textContent = "You can hold at most " + max + " seats at a time."; return; }
        chosen.add(e.target.value);
      } else {
        chosen.delete(e.target.value);
      }
      refresh();
    });
    // Show whether the map is live (and let tests wait for it).
    document.body.addEventListener("htmx:sseOpen", function () { setLive("live"); });
    document.body.addEventListener("htmx:sseError", function () { setLive("reconnecting"); });
    function setLive(state) {
      var map = document.getElementById("seat-map");
      if (map) map.dataset.live = state;
      var badge = document.getElementById("live-badge");
      if (badge) badge.textContent = state === "live" ? "Live" : "Reconnecting…";
    }
    // A live update replaces a seat's element: put the passenger's choice back on it.
    document.body.addEventListener("htmx:afterSettle", refresh);
    document.body.addEventListener("htmx:sseMessage", function (e) {
      if (e.detail && e.detail.type === "reload") location.reload();
      else refresh();
    });
    refresh();
  }

  // The boarding check: after each scan, clear the code field for the next ticket.
  function boardingForm() {
    var form = document.querySelector("form.boarding-form");
    if (!form) return;
    form.addEventListener("htmx:afterRequest", function () {
      var code = form.querySelector("#code");
      code.value = "";
      code.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startCountdowns();
    seatPicker();
    boardingForm();
  });
})();
