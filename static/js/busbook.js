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
        // hold.js warns before the end and keeps the typed form before the reload.
        el.dispatchEvent(new CustomEvent("countdown:tick", { detail: { left: left } }));
        if (left <= 0) {
          clearInterval(timer);
          out.textContent = "expired";
          var keep = [];
          el.dispatchEvent(new CustomEvent("countdown:expired", { detail: { wait: keep } }));
          Promise.all(keep).then(function () {
            setTimeout(function () { location.reload(); }, 800);
          });
        }
      }
      var timer = setInterval(tick, 1000);
      tick();
    });
  }

  // --- seatmap: the seat picker --------------------------------------------------------
  // Without this the seat map is a form of plain checkboxes. With it:
  // - each deck is an ARIA grid (WAI-ARIA APG grid pattern): one Tab stop per deck (roving
  //   tabindex), arrow keys move between seats (aisles and empty places skipped), Home/End
  //   (Ctrl: first/last seat of the deck), Space ticks, Enter does not submit the hold;
  //   taken seats stay reachable (aria-disabled, not disabled) so a screen reader hears them;
  // - the passenger's ticks survive live updates; a ticked seat someone else takes is
  //   unticked and the page says so (visibly and to screen readers);
  // - a focused seat is never left under the sticky hold bar (scroll-padding, sized here).
  function seatPicker() {
    var form = document.querySelector("form.hold-form");
    if (!form) return;
    var max = parseInt(form.dataset.maxSeats || "6", 10);
    var summary = document.getElementById("selection-summary");
    var notice = document.getElementById("seat-notice");
    var chosen = new Set();
    var focusedSeat = {}; // grid id -> value of the seat holding its Tab stop
    form.querySelectorAll("input[name=seat_ids]:checked").forEach(function (i) { chosen.add(i.value); });

    function inputOf(cell) { return cell.querySelector("input[name=seat_ids]"); }
    function cellOf(input) { return input.closest("[data-seat-number]"); }
    function unavailable(input) { return input.disabled || input.getAttribute("aria-disabled") === "true"; }
    function num(cell, key) { return parseInt(cell.dataset[key], 10); }
    function cellsOf(grid) {
      return Array.prototype.slice.call(grid.querySelectorAll("[data-seat-number]")).sort(function (a, b) {
        return num(a, "row") - num(b, "row") || num(a, "column") - num(b, "column");
      });
    }
    function seatWord(n) { return n === 1 ? "seat" : "seats"; }
    function listed(items) {
      return items.length < 2 ? items.join("") : items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
    }

    // Roles and the roving Tab stop; run again on every live update (it brings fresh markup).
    function enhance() {
      document.querySelectorAll("[data-seat-grid]").forEach(function (grid) {
        if (grid.getAttribute("role") !== "grid") {
          grid.setAttribute("role", "grid");
          grid.setAttribute("aria-labelledby", grid.dataset.title);
          grid.setAttribute("aria-describedby", "seat-map-keys");
          grid.setAttribute("aria-rowcount", grid.dataset.rows);
          grid.setAttribute("aria-colcount", grid.dataset.columns);
          grid.querySelectorAll(".deck__row").forEach(function (row) {
            if (row.querySelector("[data-seat-number]")) {
              row.setAttribute("role", "row");
              row.setAttribute("aria-rowindex", row.dataset.row);
            } else {
              row.setAttribute("role", "presentation");
            }
          });
        }
        var cells = cellsOf(grid), stop = null;
        cells.forEach(function (cell) {
          var input = inputOf(cell);
          cell.setAttribute("role", "gridcell");
          cell.setAttribute("aria-colindex", cell.dataset.column);
          if (input.disabled) { input.disabled = false; input.setAttribute("aria-disabled", "true"); }
          input.tabIndex = -1;
          if (input.value === focusedSeat[grid.id]) stop = input;
        });
        if (!stop) {
          var free = cells.filter(function (c) { return !unavailable(inputOf(c)); });
          var first = (free[0] || cells[0]);
          stop = first && inputOf(first);
        }
        if (stop) stop.tabIndex = 0;
      });
    }

    function refresh() {
      var total = 0, numbers = [], taken = [];
      form.querySelectorAll("input[name=seat_ids]").forEach(function (input) {
        var seat = cellOf(input);
        if (unavailable(input)) {
          if (chosen.has(input.value)) { chosen.delete(input.value); taken.push(seat); }
          input.checked = false;
          return;
        }
        input.checked = chosen.has(input.value);
        if (input.checked) { total += parseFloat(seat.dataset.fare); numbers.push(seat.dataset.seatNumber); }
      });
      if (taken.length) sayTaken(taken, numbers.length);
      sizeBar();
      if (!summary) return;
      summary.textContent = numbers.length
        ? numbers.length + " " + seatWord(numbers.length) + " (" + numbers.join(", ") + "): ₹" + total.toLocaleString("en-IN")
        : "Pick up to " + max + " " + seatWord(max) + ".";
    }

    function sayTaken(cells, left) {
      var byOthers = cells.filter(function (c) { return c.dataset.status !== "mine"; });
      var parts = [];
      if (byOthers.length) {
        var names = byOthers.map(function (c) { return c.dataset.seatNumber; });
        var verb = names.length === 1 ? "Seat " + names[0] + " was" : "Seats " + listed(names) + " were";
        var blocked = byOthers.every(function (c) { return c.dataset.status === "blocked"; });
        parts.push(verb + (blocked ? " just withdrawn from sale." : " just taken by someone else."));
      }
      var mine = cells.length - byOthers.length;
      if (mine) parts.push(mine === 1 ? "One of your seats is already held by you." : "Some of your seats are already held by you.");
      parts.push(left ? "Your other " + seatWord(left) + " are still ticked." : "Please pick another seat.");
      if (left === 1) parts[parts.length - 1] = "Your other seat is still ticked.";
      if (notice) notice.textContent = parts.join(" ");
      sizeBar();
    }

    form.addEventListener("click", function (e) {
      var input = e.target;
      if (!input.matches || !input.matches("input[name=seat_ids]")) return;
      if (unavailable(input)) { e.preventDefault(); return; }
      if (input.checked && !chosen.has(input.value) && chosen.size >= max) {
        e.preventDefault();
        summary.textContent = "You can hold at most " + max + " " + seatWord(max) + " at a time.";
      }
    });
    form.addEventListener("change", function (e) {
      if (e.target.name !== "seat_ids") return;
      if (e.target.checked) chosen.add(e.target.value); else chosen.delete(e.target.value);
      if (notice) notice.textContent = "";
      refresh();
    });

    // Keyboard: arrows, Home/End, Enter swallowed (it would submit the hold half-chosen).
    function target(cell, key, ctrl) {
      var grid = cell.closest("[data-seat-grid]"), cells = cellsOf(grid);
      var row = num(cell, "row"), col = num(cell, "column");
      var inRow = function (r) { return cells.filter(function (c) { return num(c, "row") === r; }); };
      var here = inRow(row);
      function nearest(list) {
        return list.slice().sort(function (a, b) {
          return Math.abs(num(a, "column") - col) - Math.abs(num(b, "column") - col) || num(a, "column") - num(b, "column");
        })[0];
      }
      function nextRow(step) {
        var rows = cells.map(function (c) { return num(c, "row"); }).filter(function (r) { return step > 0 ? r > row : r < row; });
        if (!rows.length) return null;
        return nearest(inRow(step > 0 ? Math.min.apply(null, rows) : Math.max.apply(null, rows)));
      }
      switch (key) {
        case "ArrowRight": return here.filter(function (c) { return num(c, "column") > col; })[0];
        case "ArrowLeft": return here.filter(function (c) { return num(c, "column") < col; }).pop();
        case "ArrowDown": return nextRow(1);
        case "ArrowUp": return nextRow(-1);
        case "Home": return ctrl ? cells[0] : here[0];
        case "End": return ctrl ? cells[cells.length - 1] : here[here.length - 1];
      }
      return undefined;
    }
    function focusSeat(cell) {
      var grid = cell.closest("[data-seat-grid]"), input = inputOf(cell);
      grid.querySelectorAll("input[name=seat_ids]").forEach(function (i) { i.tabIndex = -1; });
      input.tabIndex = 0;
      focusedSeat[grid.id] = input.value;
      input.focus({ preventScroll: true });
      keepInView(cell);
    }
    // scrollIntoView honours the page's scroll-padding, which leaves the hold bar's height free.
    function keepInView(cell) { (cell.querySelector(".seat") || cell).scrollIntoView({ block: "nearest", inline: "nearest" }); }
    form.addEventListener("keydown", function (e) {
      var input = e.target;
      if (!input.matches || !input.matches("[data-seat-grid] input[name=seat_ids]")) return;
      if (e.key === "Enter") { e.preventDefault(); return; }
      if (e.key === " " && unavailable(input)) { e.preventDefault(); return; }
      if (e.altKey || e.metaKey) return;
      var next = target(cellOf(input), e.key, e.ctrlKey);
      if (next === undefined) return;
      e.preventDefault();
      if (next) focusSeat(next);
    });
    form.addEventListener("focusin", function (e) {
      var input = e.target;
      if (!input.matches || !input.matches("[data-seat-grid] input[name=seat_ids]")) return;
      var grid = input.closest("[data-seat-grid]");
      focusedSeat[grid.id] = input.value;
      grid.querySelectorAll("input[name=seat_ids]").forEach(function (i) { i.tabIndex = i === input ? 0 : -1; });
      keepInView(cellOf(input));
    });

    // The hold bar sticks to the bottom of a phone's screen: keep that much of the page free
    // when scrolling a seat into view (CSS has a fixed fallback for no JavaScript).
    function sizeBar() {
      var bar = form.querySelector(".hold-bar");
      var stuck = bar && getComputedStyle(bar).position === "sticky" && getComputedStyle(bar).bottom !== "auto";
      document.documentElement.style.setProperty("--hold-bar-space", stuck ? Math.ceil(bar.getBoundingClientRect().height) + 12 + "px" : "0px");
    }
    if (window.ResizeObserver && form.querySelector(".hold-bar")) new ResizeObserver(sizeBar).observe(form.querySelector(".hold-bar"));
    window.addEventListener("resize", sizeBar);
    sizeBar();

    // Show whether the map is live (and let tests wait for it).
    document.body.addEventListener("htmx:sseOpen", function () { setLive("live"); });
    document.body.addEventListener("htmx:sseError", function () { setLive("reconnecting"); });
    function setLive(state) {
      var map = document.getElementById("seat-map");
      if (map) map.dataset.live = state;
      var badge = document.getElementById("live-badge");
      if (badge) badge.textContent = state === "live" ? "Live" : "Reconnecting…";
    }
    // A live update replaces a seat's element: keep keyboard focus on it, and put the
    // passenger's choice back.
    var refocus = null;
    document.body.addEventListener("htmx:sseBeforeMessage", function (e) {
      var active = document.activeElement;
      refocus = active && e.target.contains && e.target.contains(active) ? e.target.id : null;
    });
    function afterUpdate() {
      enhance();
      refresh();
      if (refocus) {
        var cell = document.getElementById(refocus);
        refocus = null;
        if (cell && inputOf(cell)) focusSeat(cell);
      }
    }
    document.body.addEventListener("htmx:afterSettle", afterUpdate);
    document.body.addEventListener("htmx:sseMessage", function (e) {
      if (e.detail && e.detail.type === "reload") reloadKeepingChoice();
      else afterUpdate();
    });
    // The stream asks for a fresh page (it fell behind): come back with the same seats and
    // points ticked (the trip page reads them from the address), and say which were taken.
    function reloadKeepingChoice() {
      var url = new URL(location.href);
      ["seat_ids", "boarding_point_id", "dropping_point_id"].forEach(function (k) { url.searchParams.delete(k); });
      chosen.forEach(function (v) { url.searchParams.append("seat_ids", v); });
      ["boarding_point_id", "dropping_point_id"].forEach(function (k) {
        var field = form.elements[k];
        if (field && field.value) url.searchParams.set(k, field.value);
      });
      location.replace(url.toString());
    }
    enhance();
    // Seats asked for in the address (a reload, the way back from logging in) that are no
    // longer free: the server could not tick them; say so.
    var asked = new URLSearchParams(location.search).getAll("seat_ids");
    var gone = [];
    asked.forEach(function (v) {
      var input = form.querySelector('input[name=seat_ids][value="' + CSS.escape(v) + '"]');
      if (input && unavailable(input)) gone.push(cellOf(input));
    });
    refresh();
    if (gone.length) sayTaken(gone, chosen.size);
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

// --- layout: the phone menu (a <details>, open and closed by the browser itself) also
// closes on Escape, handing focus back to its toggle, and on a click or tap outside it.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector("details.nav-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    var menu = document.querySelector("details.nav-menu[open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });
})();
