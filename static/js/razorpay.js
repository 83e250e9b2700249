// Opens Razorpay Checkout with the options the server put in the page (a JSON data block:
// no inline script, so the page keeps its Content-Security-Policy).
(function () {
  "use strict";
  var options = JSON.parse(document.getElementById("razorpay-options").textContent);
  function open() { new Razorpay(options).open(); }
  document.getElementById("rzp-open").addEventListener("click", open);
  window.addEventListener("load", open);
})();
