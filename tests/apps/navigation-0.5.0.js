/* Counts a single-page app's client-side navigations as page views (analytics'
 * TrafficMiddleware, option navigation_beacon). Added with one tag, the beacon path + ".js":
 *   <script src="/_navigation.js" defer></script>
 * It sends nothing for the page it loads with (the server saw that one), then one beacon,
 * to the same URL without ".js", each time pushState or popstate changes the path or query
 * string; a hash change sends nothing. Nor does replaceState: it rewrites the entry shown,
 * adding no page (routers call it for query state on every keystroke, for redirects and URL
 * clean-ups), so it only changes what the next beacon names as the page navigated from.
 * The beacon carries the new path and query and the one navigated from: no cookie, no id.
 * The page it loads with is counted by the server, unless the browser asked for it as a
 * prefetch or a prerender (Sec-Purpose: prefetch), which most often nobody sees: then one
 * beacon says it was shown, with its own referrer's origin and its query's campaign tags (all
 * the server keeps of them), when a prerender is shown or at once for a page served from a
 * speculation rules prefetch or from the HTTP cache.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  // Loaded twice (a layout and a page both add it): the first copy counts, alone.
  if (!script || !script.src || !window.history || window.__analyticsNavigation) return;
  window.__analyticsNavigation = true;

  var endpoint = new URL(script.src);
  endpoint.pathname = endpoint.pathname.replace(/\.js$/, "");
  endpoint.search = "";
  endpoint.hash = "";
  endpoint = endpoint.href;
  var shown = location.pathname + location.search;

  function send(body) {
    // sendBeacon survives the page being left; a string goes as text/plain, which needs no
    // CORS preflight. Where it is missing or refuses (a full beacon queue), a keepalive fetch.
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
    } catch (ignored) {}
    if (!window.fetch) return;
    fetch(endpoint, {
      method: "POST",
      body: body,
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "text/plain;charset=UTF-8" }
    }).catch(function () {});
  }

  // Of a page load's URL and referrer the server keeps only the campaign tags of the query
  // (analytics.paths.extract_utm: utm_source, utm_medium, utm_campaign, ref, source) and the
  // referrer's site: the rest is not sent (a long query and a 4096-byte referrer would not
  // even fit in a beacon).
  var TAGS = { utm_source: true, utm_medium: true, utm_campaign: true, ref: true, source: true };

  function tagsOf(search) {
    var kept = [];
    search.slice(1).split("&").forEach(function (pair) {
      var equals = pair.indexOf("=");
      if (equals < 0) return;
      var key;
      try {
        key = decodeURIComponent(pair.slice(0, equals).replace(/\+/g, " "));
      } catch (malformed) {
        return; // no tag: the server reads a bad escape as no key it knows either
      }
      // The key as the server matches it, so an escaped one (utm%5Fsource) still counts.
      if (Object.prototype.hasOwnProperty.call(TAGS, key)) kept.push(key + pair.slice(equals));
    });
    return kept.length ? "?" + kept.join("&") : "";
  }

  function loaded() {
    var page = location.pathname + tagsOf(location.search);
    var referrer = document.referrer;
    if (referrer === location.origin + location.pathname + location.search) {
      // The page itself (a tagged page posted back to itself): the server tells such a view
      // from a new arrival by the referrer naming the very page it stands for.
      referrer = location.origin + page;
    } else {
      var origin = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\/?#]*/.exec(referrer);
      referrer = origin ? origin[0] : "";
    }
    send(JSON.stringify({ path: page, referrer: referrer, loaded: true }));
  }

  function navigated() {
    var now = location.pathname + location.search;
    if (now === shown) return;
    if (document.prerendering) {
      // Nobody sees a page still prerendering: the page it has become when it is shown is
      // the one `loaded` counts.
      shown = now;
      return;
    }
    var body = JSON.stringify({ path: now, from: shown });
    shown = now;
    send(body);
  }

  function replaced() {
    shown = location.pathname + location.search;
  }

  [["pushState", navigated], ["replaceState", replaced]].forEach(function (hook) {
    var original = history[hook[0]];
    if (typeof original !== "function") return;
    history[hook[0]] = function () {
      var result = original.apply(this, arguments);
      hook[1]();
      return result;
    };
  });
  window.addEventListener("popstate", navigated);

  var timing = window.performance && performance.getEntriesByType
    ? performance.getEntriesByType("navigation")[0]
    : null;
  if (document.prerendering) {
    document.addEventListener("prerenderingchange", loaded, { once: true });
  } else if (
    timing &&
    (timing.activationStart > 0 ||
      timing.deliveryType === "navigational-prefetch" ||
      // Followed to, and shown from the browser's HTTP cache without asking the server (no
      // byte transferred, no service worker between): a page a <link rel=prefetch> fetched
      // ahead (a prefetch is no page view) and its Cache-Control let the browser keep, or
      // any page seen before that it may reuse. A revalidation (304) transfers headers and
      // was counted by the server; reloads and back/forward are not "navigate".
      (timing.type === "navigate" &&
        timing.transferSize === 0 &&
        timing.decodedBodySize > 0 &&
        !timing.workerStart))
  ) {
    // Shown before this script ran: a prerender already activated, or a prefetch used.
    loaded();
  }
})();
