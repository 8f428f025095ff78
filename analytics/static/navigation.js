/* Counts a single-page app's client-side navigations as page views (analytics'
 * TrafficMiddleware, option navigation_beacon). Added with one tag, the beacon path + ".js":
 *   <script src="/_navigation.js" defer></script>
 * It sends nothing for the page it loads with (the server saw that one), then one beacon,
 * to the same URL without ".js", each time pushState or popstate changes the path or query
 * string; a hash change sends nothing. Nor does replaceState: it rewrites the entry shown,
 * adding no page (routers call it for query state on every keystroke, for redirects and URL
 * clean-ups), so it only changes what the next beacon names as the page navigated from.
 * The beacon carries the new path with its query's campaign tags and, of the page navigated
 * from, what the server keeps (see `left`): no cookie, no id.
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

  // Of a page's URL and referrer (a page load's or a navigation's) the server keeps only the
  // campaign tags of the query (analytics.paths.extract_utm: utm_source, utm_medium,
  // utm_campaign, ref, source) and the referrer's site: the rest is not sent (a long query and
  // a 4096-byte referrer would not even fit in a beacon). What is sent is bounded whatever the
  // URL, so that a beacon always fits in the server's MAX_BODY (a 413 would lose the view).
  var TAGS = { utm_source: true, utm_medium: true, utm_campaign: true, ref: true, source: true };
  // The server reads no tag from a query without one of these (extract_utm's _MARKERS).
  var MARKER = /utm_|ref=|source=/;
  // The server stores a tag's first 100 characters (code points), and judges the whole value
  // for an address or a token: 100 more are sent, so that one cut across the 100th is still
  // seen whole (and redacted) rather than stored as a harmless-looking start ("john.doe@").
  // A value cut here (it arrives with VALUE_POINTS) is stored ":redacted": the server cannot
  // judge what was not sent, and the page's own request had it judged whole.
  var VALUE_POINTS = 200;
  // What the server reads as no value at all: Python's str.split() whitespace and the
  // controls it reads as spaces (analytics.paths.CONTROLS). Not \s: it holds U+FEFF, a value.
  var BLANK = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202a-\u202f\u205f\u2066-\u2069\u3000]/g;
  // The longest Referer Chromium and Firefox send whole; a longer one is cut to the origin.
  var MAX_REFERRER = 4096;
  // A longer path is sent cut at a segment and ended by "/…", so that it cannot make the
  // beacon too long. The server stores 512 characters of a path, and what was cut off here
  // as ":redacted" (it cannot judge what was not sent: a token, an address or an encoded
  // query's parameter there made the page's own request store less).
  var MAX_PATH = 4096;

  // The code points of a query's key or value as the server decodes it (Python's unquote,
  // errors replaced: `+` a space, an escape a byte, UTF-8 with a U+FFFD for each maximal
  // invalid run, as TextDecoder), each with the index in `sent` where it ends.
  function pointsOf(sent) {
    var bytes = [];
    var ends = [];
    for (var i = 0; i < sent.length; ) {
      var escaped = sent.charAt(i) === "%" && /^[0-9A-Fa-f]{2}$/.test(sent.substr(i + 1, 2));
      var code = escaped ? parseInt(sent.substr(i + 1, 2), 16) : sent.charCodeAt(i);
      i += escaped ? 3 : 1;
      bytes.push(code === 0x2b && !escaped ? 0x20 : code > 0x7f && !escaped ? 0xff : code);
      ends.push(i);
    }
    var points = [];
    for (var at = 0; at < bytes.length; ) {
      var lead = bytes[at];
      var more = lead < 0x80 ? 0 : lead < 0xc2 ? -1 : lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : lead < 0xf5 ? 3 : -1;
      // The second byte's range (Unicode table 3-7): no overlong form, surrogate or > U+10FFFF.
      var low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
      var high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
      var point = more < 0 ? 0xfffd : more ? lead & (0x7f >> (more + 1)) : lead;
      var next = at + 1;
      for (var k = 0; k < more; k++, next++) {
        var byte = bytes[next];
        if (byte === undefined || byte < (k ? 0x80 : low) || byte > (k ? 0xbf : high)) {
          point = 0xfffd;
          break;
        }
        point = (point << 6) | (byte & 0x3f);
      }
      points.push([String.fromCodePoint(point), ends[next - 1]]);
      at = next;
    }
    return points;
  }

  function textOf(points) {
    return points.map(function (point) { return point[0]; }).join("");
  }

  // The query's campaign tags as the server reads them: for each tag its first value that
  // says something (the server passes over blank ones), cut after VALUE_POINTS code points
  // (never inside a character), as the URL writes it (its escapes, a `+` still a `+`: the
  // server judges a phone number's `+` as sent). The key is written plainly: with a marker in
  // the query, the server reads `utm%5Fsource` as utm_source. At most 5 × (1 + 12 + 1 + 12 ×
  // VALUE_POINTS) characters (a code point is at most 4 escaped bytes, a backslash 3).
  function tagsOf(search) {
    if (!MARKER.test(search)) return "";
    var kept = [];
    var found = {};
    search.slice(1).split("&").forEach(function (pair) {
      var equals = pair.indexOf("=");
      if (equals < 0) return;
      var key = textOf(pointsOf(pair.slice(0, equals)));
      if (!Object.prototype.hasOwnProperty.call(TAGS, key) || found[key]) return;
      var sent = pair.slice(equals + 1);
      var points = pointsOf(sent);
      if (!textOf(points).replace(BLANK, "")) return;
      found[key] = true;
      var from = 0;
      if (!textOf(points.slice(0, VALUE_POINTS)).replace(BLANK, "")) {
        // Blank up to the cut (a value led by hundreds of spaces): the server drops leading
        // blanks, so start at the first character that says something (after a `+` right
        // before it, which the server reads as a phone number's when it judges the value).
        while (!points[from][0].replace(BLANK, "")) from++;
        if (sent.charAt(points[from - 1][1] - 1) === "+") from--;
      }
      var start = from ? points[from - 1][1] : 0;
      var end = points[Math.min(points.length, from + VALUE_POINTS) - 1][1];
      // A backslash escaped, as the beacon's path needs (the server refuses one).
      kept.push(key + "=" + sent.slice(start, end).replace(/\\/g, "%5C"));
    });
    return kept.length ? "?" + kept.join("&") : "";
  }

  // The page shown as the beacon names it: its path (cut past MAX_PATH, at a segment) and
  // its campaign tags.
  function pageOf(path, search) {
    if (path.length > MAX_PATH) path = path.slice(0, path.lastIndexOf("/", MAX_PATH)) + "/%E2%80%A6";
    return path + tagsOf(search);
  }

  function loaded() {
    var page = pageOf(location.pathname, location.search);
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
    var page = pageOf(location.pathname, location.search);
    var body = JSON.stringify({ path: page, from: left(shown, page) });
    shown = now;
    send(body);
  }

  // What the page's <meta name="referrer"> makes of the Referer of a page of this site: the
  // last one with a policy wins, as the HTML standard has it; legacy names as it maps them.
  // A Referrer-Policy response header is not visible to a script: without such a meta, the
  // default (the whole URL, within the site) is assumed.
  var POLICIES = {
    "no-referrer": "none",
    never: "none",
    origin: "origin",
    "strict-origin": "origin",
    "no-referrer-when-downgrade": "url",
    "same-origin": "url",
    "origin-when-cross-origin": "url",
    "origin-when-crossorigin": "url",
    "strict-origin-when-cross-origin": "url",
    "unsafe-url": "url",
    always: "url",
    default: "url"
  };

  function referrerPolicy() {
    var policy = "url";
    var metas = document.querySelectorAll("meta[name]");
    for (var i = 0; i < metas.length; i++) {
      if (metas[i].getAttribute("name").toLowerCase() !== "referrer") continue;
      var content = (metas[i].getAttribute("content") || "").replace(/[A-Z]+/g, function (upper) {
        return upper.toLowerCase(); // ASCII only, as the standard lowercases it
      });
      if (Object.prototype.hasOwnProperty.call(POLICIES, content)) policy = POLICIES[content];
    }
    return policy;
  }

  function bytesOf(path) {
    return path.replace(/%([0-9A-Fa-f]{2})/g, function (escape, hex) {
      return String.fromCharCode(parseInt(hex, 16));
    });
  }

  // Of the page navigated from (`from`, as `shown` writes it) the server stores only that it is
  // this site's, and whether it is the very page now shown (the same query, a path spelled
  // otherwise: a tagged page seen again, not a new arrival), as it would from the Referer of a
  // page request. So it is sent as that Referer would name it: none under a no-referrer policy
  // (""), the origin alone ("/") under an origin policy or past MAX_REFERRER, where a browser
  // cuts it so; else its path, with its query reduced as the beacon's `page` is only where it
  // is the page's own (its path the same bytes, percent-decoded, as the server compares them).
  // Else no query, or an empty one where its path alone would be `page` (`/search?q=a` to
  // `/search?q=b`), which the server would refuse as a navigation to the page it left.
  function left(from, page) {
    var policy = referrerPolicy();
    if (policy === "none") return "";
    var query = from.indexOf("?");
    var path = query < 0 ? from : from.slice(0, query);
    var search = query < 0 ? "" : from.slice(query);
    if (policy === "origin" || (location.origin + from).length > MAX_REFERRER) {
      path = "/";
    } else if (search === location.search && bytesOf(path) === bytesOf(location.pathname)) {
      return path + tagsOf(search);
    }
    return path === page ? path + "?" : path;
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
