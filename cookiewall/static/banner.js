// cookiewall banner, progressive enhancement: decide without leaving the page.
// Without this file the banner's plain forms post and come back (303) to the same page.
(function () {
  "use strict";

  // The choice posted as a plain form (the page is left, and comes back with a 303): what
  // the banner does without this file. A form of its own, not the button's: a page that left
  // a <form> of its own open before the banner owns the banner's first button, and once the
  // banner is moved that button has no form at all.
  function fallback(banner, button) {
    var form = document.createElement("form");
    form.setAttribute("method", "post");
    form.setAttribute("action", decisionUrl(banner, button));
    // In UTF-8 whatever the page's charset, as the gate reads it (and as the banner's forms say).
    form.setAttribute("accept-charset", "utf-8");
    form.hidden = true;
    var fields = [["action", button.value]];
    banner.querySelectorAll('input[type="hidden"][name="next"], input[name="policy_version"]')
      .forEach(function (input) { fields.push([input.name, input.value]); });
    checkedCategories(banner, button).forEach(function (name) {
      fields.push(["categories", name]);
    });
    var seen = {};
    fields.forEach(function (field) {
      if (field[0] !== "categories" && seen[field[0]]) { return; } // each form carries them
      seen[field[0]] = true;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = field[0];
      input.value = field[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit(); // does not fire "submit"
  }

  // getAttribute, not form.action: the buttons are named "action", and a named control
  // shadows the form's own property (form.action would be the button element).
  function decisionUrl(banner, button) {
    var form = banner.querySelector("form.cookiewall-form");
    return button.getAttribute("formaction") || (form && form.getAttribute("action"));
  }

  // The boxes ticked, for "Save choices" only: "Accept all" and "Reject all" send none, as
  // their forms (which hold no boxes) do.
  function checkedCategories(banner, button) {
    var categories = [];
    if (button.value !== "save") {
      return categories;
    }
    banner.querySelectorAll('input[name="categories"]:checked:not(:disabled)').forEach(
      function (box) { categories.push(box.value); }
    );
    return categories;
  }

  // A polite live region, outside the banner (which goes once the choice is saved), in the
  // banner's language. Added empty now: a region added with its text already in it is often
  // not read at all.
  function statusRegion(banner) {
    if (!document.body) {
      return null;
    }
    var status = document.createElement("p");
    status.className = "cookiewall-status";
    status.setAttribute("data-cookiewall-status", "");
    status.setAttribute("role", "status");
    status.setAttribute("lang", banner.getAttribute("lang") || "");
    status.setAttribute("dir", banner.getAttribute("dir") || "auto");
    document.body.appendChild(status);
    return status;
  }

  // Where focus goes once the banner is gone (left in it, focus fell to <body>, and a screen
  // reader started again from the top): back where it was before it entered the banner, else
  // to the page's main heading, else the start of the page. Tab then goes on from there.
  var LANDINGS = ["main h1", "[role=main] h1", "h1", "main", "[role=main]"];

  function focusOn(element) {
    if (!element || !element.isConnected || element === document.body) {
      return false;
    }
    element.focus();
    return document.activeElement === element;
  }

  // A heading is not focusable: tabindex="-1" makes it so for a script (not for Tab), and
  // only until it loses focus, so that the page is left as it was.
  function focusLanding(element) {
    if (!element || element.hasAttribute("tabindex")) {
      return focusOn(element);
    }
    element.setAttribute("tabindex", "-1");
    if (!focusOn(element)) { // hidden, say
      element.removeAttribute("tabindex");
      return false;
    }
    element.addEventListener("blur", function () {
      element.removeAttribute("tabindex");
    }, { once: true });
    return true;
  }

  function focusPage() {
    for (var i = 0; i < LANDINGS.length; i++) {
      var landing = document.querySelector(LANDINGS[i]);
      if (landing && !landing.closest("[data-cookiewall]") && focusLanding(landing)) {
        return;
      }
    }
    var first = document.body && document.body.firstElementChild;
    while (first && (first.hasAttribute("data-cookiewall") || first.tagName === "SCRIPT")) {
      first = first.nextElementSibling;
    }
    focusLanding(first);
  }

  function enhance(banner) {
    var status = statusRegion(banner);
    var before = null; // focused before focus entered the banner
    banner.addEventListener("focusin", function (event) {
      var from = event.relatedTarget;
      if (!from || !banner.contains(from)) {
        before = from;
      }
    });
    // One decision per banner: a double click, a held-down Enter or another button pressed
    // while the first choice is on its way would each send one more (another receipt, another
    // "cookiewall:decided" on which the page loads its scripts), in any order of arrival.
    // A decision made in another tab, found here, counts as this banner's one.
    var deciding = false;

    // The banner goes, the live region says what was saved, the page hears of it once.
    // `pressed`: the button of this banner the choice was made with (none: in another tab).
    function settle(state, pressed) {
      // Only a visitor still in the banner is moved: one who went on while the choice
      // was on its way keeps their place.
      var focusWasIn = banner.contains(document.activeElement);
      banner.hidden = true;
      banner.remove();
      if (status) {
        // What the button says, unless the answer says otherwise: "Accept all" under Global
        // Privacy Control grants less than all, and a screen reader must not say "all".
        var claims = { accept_all: "all", reject_all: "none" };
        var said = pressed ? pressed.value
          : { all: "accept_all", none: "reject_all" }[state.summary];
        if (!said || (claims[said] && claims[said] !== state.summary)) {
          said = "save";
        }
        var source = banner.querySelector('button[name="action"][value="' + said + '"]');
        if (source) {
          status.setAttribute("lang", source.getAttribute("data-cookiewall-saved-lang") ||
            banner.getAttribute("lang") || "");
          status.setAttribute("dir", source.getAttribute("data-cookiewall-saved-dir") ||
            banner.getAttribute("dir") || "auto");
          status.textContent = source.getAttribute("data-cookiewall-saved") || "";
        }
      }
      if (focusWasIn && !focusOn(before)) {
        focusPage();
      }
      // Google Consent Mode: the policy maps signals, the page loaded consent-mode.js.
      if (state.consent_mode && typeof window.gtag === "function") {
        window.gtag("consent", "update", state.consent_mode);
      }
      // Pages gate their own scripts on this (a server cannot see cookies set by scripts).
      document.dispatchEvent(new CustomEvent("cookiewall:decided", { detail: state }));
    }

    function decide(button) {
      if (deciding) {
        return;
      }
      deciding = true;
      var version = banner.querySelector('input[name="policy_version"]');
      var decision = { action: button.value, categories: checkedCategories(banner, button) };
      if (version) {
        // The policy this banner was shown under: a choice on an older one decides nothing.
        decision.policy_version = version.value;
      }
      fetch(decisionUrl(banner, button), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(decision)
      })
        .then(function (response) {
          if (response.status === 409 || response.status === 400) {
            // Refused as sent (a policy deployed since this page: 409 for another version,
            // 400 for a category it no longer has): the form would get the same answer, as
            // the visitor's page. The page again shows the banner of the policy in force:
            // fetched with a GET, not reload(), which posts a page that answered a POST (an
            // order placed) again. Without its #fragment, which alone would load nothing.
            window.location.replace(window.location.href.split("#")[0]);
            return;
          }
          if (!response.ok) { throw new Error("consent not saved: " + response.status); }
          return response.json().then(function (state) { settle(state, button); });
        })
        .catch(function () { fallback(banner, button); });
    }

    banner.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || button.name !== "action" || !window.fetch) {
        return;
      }
      event.preventDefault();
      decide(button);
    });

    // A button whose form is not the banner's: a page that leaves its own <form> open before
    // the banner takes the banner's first one (HTML ignores a <form> inside a form), and once
    // the banner is moved that button has no form. A click on it submitted nothing, or the
    // page's form (the decision's fields in the page's search URL).
    banner.addEventListener("click", function (event) {
      var target = event.target;
      var button = target && target.closest ? target.closest('button[name="action"]') : null;
      if (!button || !banner.contains(button) || (button.form && banner.contains(button.form))) {
        return;
      }
      event.preventDefault();
      if (window.fetch) {
        decide(button);
      } else if (!deciding) {
        deciding = true;
        fallback(banner, button);
      }
    });

    // A banner left open in another tab: once the visitor has decided elsewhere it goes when
    // this tab is seen again, or a press here would replace that choice (another receipt).
    // Only a banner shown because the visitor had not decided: one reopened to change a
    // choice stays.
    if (banner.hasAttribute("data-cookiewall-undecided") && window.fetch) {
      var checking = false;
      var recheck = function () {
        if (deciding || checking || document.visibilityState !== "visible" ||
            !banner.isConnected) {
          return;
        }
        checking = true;
        var button = banner.querySelector('button[name="action"]');
        fetch(decisionUrl(banner, button), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" },
          cache: "no-store"
        })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (state) {
            checking = false;
            if (state && state.decided && !deciding && banner.isConnected) {
              deciding = true;
              settle(state, null);
            }
          })
          .catch(function () { checking = false; }); // offline: the banner stays, as it was
      };
      document.addEventListener("visibilitychange", recheck);
      window.addEventListener("pageshow", function (event) {
        if (event.persisted) { recheck(); } // back from the back-forward cache
      });
    }
  }

  // Injection puts the banner before </body> (it works there without this file), so Tab
  // would reach it only after every control of the page. It is position: fixed, so moving it
  // to the start of <body> changes the focus and reading order, not the look. Focus stays
  // where it is: nothing is focused for the visitor.
  function lead(banner) {
    var body = document.body;
    if (!body || body.firstElementChild === banner) {
      return;
    }
    var focused = banner.contains(document.activeElement) ? document.activeElement : null;
    body.insertBefore(banner, body.firstChild);
    if (focused) { focused.focus(); } // a move blurs; a visitor already in the banner stays
  }

  // The stylesheet keeps 50vh (the banner's cap) at the bottom of the page for the banner;
  // its real height is mostly far less. Measured, and again whenever it changes (categories
  // unfolded, a rotated phone, larger text), so the page keeps exactly that much room.
  // A CSSOM custom property: allowed under a CSP without 'unsafe-inline'.
  function room(banner) {
    var root = document.documentElement;
    function measure() {
      if (banner.isConnected && !banner.hidden) {
        // Rounded up: a fraction of a pixel short would leave the page's last line under it.
        var height = Math.ceil(banner.getBoundingClientRect().height);
        root.style.setProperty("--cookiewall-height", height + "px");
      } else {
        root.style.removeProperty("--cookiewall-height");
        if (!root.getAttribute("style")) { root.removeAttribute("style"); }
      }
    }
    measure();
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(measure);
      observer.observe(banner);
      document.addEventListener("cookiewall:decided", function () {
        observer.disconnect();
        measure();
      });
    }
  }

  // position: fixed is fixed to the screen only while no ancestor has a transform, filter,
  // contain or will-change: on a page whose <body> has one (a "GPU layer" hack, a page-wide
  // filter) the banner sat at the foot of the body, out of sight at the end of a long page.
  // And a page's own fixed footer or chat bar at the highest z-index, later in the document
  // than the banner led to the start of <body>, covered its buttons. Shown as a manual popover
  // (no light dismiss, no Escape), it is in the top layer: fixed to the screen and above the
  // page whatever the page does. Not the banner opened as a page of its own: it is in flow.
  function raise(banner) {
    if (typeof banner.showPopover !== "function" || banner.closest("[data-cookiewall-page]")) {
      return;
    }
    // A modal dialog the page opened first (a newsletter or age prompt) makes the rest of the
    // page inert: the banner shown above it could not be used, and hid the dialog's own
    // buttons. It waits under the dialog, fixed as it is without the top layer, until it closes.
    var modal = openModal();
    if (modal) {
      modal.addEventListener("close", function () { raise(banner); }, { once: true });
      return;
    }
    if (!banner.isConnected || banner.hidden) { // decided meanwhile
      return;
    }
    banner.setAttribute("popover", "manual");
    try {
      banner.showPopover();
    } catch (error) { // already shown, or in a page that moved it: left as without the API
      banner.removeAttribute("popover");
    }
  }

  function openModal() {
    try {
      return document.querySelector("dialog:modal");
    } catch (error) { // :modal unknown: a browser older than the Popover API
      return null;
    }
  }

  document.querySelectorAll("[data-cookiewall]").forEach(function (banner) {
    // Once per banner: a site that adds this file itself gets it twice on the pages the gate
    // injects into, and two sets of listeners sent two decisions per press.
    if (banner.hasAttribute("data-cookiewall-enhanced")) {
      return;
    }
    banner.setAttribute("data-cookiewall-enhanced", "");
    lead(banner);
    raise(banner);
    enhance(banner);
    room(banner);
  });
})();
