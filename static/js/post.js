// Reports a read of this post once the reader has really read it: at least the required share
// of the estimated reading time spent with the tab visible (Page Visibility API), and the end
// of the article seen (IntersectionObserver). Drafts carry no report URL and never report.
(function () {
  "use strict";
  var article = document.querySelector("article.post[data-mark-read-url]");
  var end = document.getElementById("post-end");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (!article || !end || !csrf || !("IntersectionObserver" in window)) return;

  var requiredMs = Number(article.dataset.requiredMs) || 0;
  var visibleMs = 0;
  var visibleSince = document.visibilityState === "visible" ? performance.now() : null;
  var endSeen = false;
  var reported = false; // the server keeps the 7-day rule; the page only avoids double reports
  var timer = null;

  function spentMs() {
    return visibleMs + (visibleSince === null ? 0 : performance.now() - visibleSince);
  }

  function report() {
    if (reported) return;
    reported = true;
    fetch(article.dataset.markReadUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf.content, "Accept": "application/json" },
    }).then(function (response) {
      if (response.ok) {
        article.dataset.readReported = "true";
        document.dispatchEvent(new CustomEvent("post:read", { detail: { status: response.status } }));
      } else {
        reported = false; // a refused report (e.g. no cookie yet) may be retried later
      }
    }).catch(function () { reported = false; });
  }

  function check() {
    clearTimeout(timer);
    if (reported || !endSeen || visibleSince === null) return;
    var remaining = requiredMs - spentMs();
    if (remaining <= 0) report();
    else timer = setTimeout(check, remaining + 50);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      visibleSince = performance.now();
    } else if (visibleSince !== null) {
      visibleMs += performance.now() - visibleSince;
      visibleSince = null;
    }
    check();
  });

  new IntersectionObserver(function (entries, observer) {
    if (entries.some(function (entry) { return entry.isIntersecting; })) {
      endSeen = true;
      observer.disconnect();
      check();
    }
  }).observe(end);

  check();
})();
