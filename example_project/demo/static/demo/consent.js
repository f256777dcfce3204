// A minimal cookie consent banner. Accepting dispatches "enableTracking", the event that
// {% cdp_tracking_script %} waits for before it loads Raptor's script; the choice is kept in a
// cookie, so later pages enable tracking at once (or never ask again after a refusal).
(function () {
  var COOKIE = "tracking_consent";
  var banner = document.getElementById("cookie-consent");

  function choice() {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(COOKIE + "=") === 0; })[0];
    return found ? found.split("=")[1] : null;
  }
  function remember(value) {
    document.cookie = COOKIE + "=" + value + "; max-age=31536000; path=/; SameSite=Lax";
    banner.hidden = true;
  }
  function enableTracking() {
    document.dispatchEvent(new CustomEvent("enableTracking"));
  }

  if (choice() === "yes") {
    enableTracking();
  } else if (choice() === null) {
    banner.hidden = false;
  }
  document.getElementById("cookie-consent-accept").addEventListener("click", function () {
    remember("yes");
    enableTracking();
  });
  document.getElementById("cookie-consent-decline").addEventListener("click", function () {
    remember("no");
  });
})();
