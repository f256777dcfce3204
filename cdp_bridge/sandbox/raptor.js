/* The cdp_bridge sandbox's stand-in for Raptor's tracking script (raptor-3.0.min.js).
 * It sends each trackEvent and setRuid of the page's window.raptor queue to the sandbox it was
 * loaded from, as Raptor's tracking request, with the visitor's "rsa" cookie as the cookie id. */
(function (window, document) {
  "use strict";
  var me = document.currentScript && document.currentScript.src;
  var base = me ? me.replace(/\/tracking\/raptor\.js(\?.*)?$/, "") : "";
  var raptor = window.raptor;
  if (!raptor || !base) { return; }
  var ruid = null;

  function cookieId() {
    var found = document.cookie.match(/(?:^|;\s*)rsa=([^;]+)/);
    if (found) { return decodeURIComponent(found[1]); }
    var id = "sbx-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
    document.cookie = "rsa=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax";
    return id;
  }

  function send(params) {
    var query = [];
    Object.keys(params || {}).forEach(function (key) {
      query.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(params[key])));
    });
    query.push("coid=" + encodeURIComponent(cookieId()));
    if (ruid) { query.push("ruid=" + encodeURIComponent(btoa(unescape(encodeURIComponent(ruid))))); }
    query.push("rsandbox=1");
    var pixel = new Image();
    pixel.src = base + "/" + raptor.customerId + ".rsa?" + query.join("&");
    (window.__cdpSandboxSent = window.__cdpSandboxSent || []).push(pixel.src);
  }

  function handle(item) {
    var event = String(item.event || "").toLowerCase();
    if (event === "setruid") {
      ruid = String(item.params);
      send({});
    } else if (event === "trackevent") {
      send(item.params);
    }
  }

  var queued = raptor.q || [];
  // The user is identified before the queued events are sent, as Raptor's script does.
  queued.filter(function (item) { return String(item.event).toLowerCase() === "setruid"; }).forEach(handle);
  queued.filter(function (item) { return String(item.event).toLowerCase() !== "setruid"; }).forEach(handle);
  raptor.push = function (event, params, options) { handle({event: event, params: params, options: options}); };
  raptor.trackEvent = function (type, params) {
    handle({event: "trackEvent", params: Object.assign({p1: type}, params || {})});
  };
})(window, document);
