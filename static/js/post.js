// Reports a read of this post once the reader has really read it: at least the required share
// of the estimated reading time spent with the tab visible (Page Visibility API), and the end
// of the article seen (IntersectionObserver). Drafts carry no report URL and never report.
// The report carries the page's read ticket; the server checks the time again by its own clock
// (blog/tickets.py) and, when it is too early by that clock, says how long to wait.
(function () {
  "use strict";
  var article = document.querySelector("article.post[data-mark-read-url]");
  var end = document.getElementById("post-end");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var ticket = document.querySelector('meta[name="read-ticket"]');
  if (!article || !end || !csrf || !ticket || !("IntersectionObserver" in window)) return;

  var requiredMs = Number(article.dataset.requiredMs) || 0;
  var visibleMs = 0;
  var visibleSince = document.visibilityState === "visible" ? performance.now() : null;
  var endSeen = false;
  var reported = false; // the server keeps the 7-day rule; the page only avoids double reports
  var timer = null;
  var retries = 3; // "too early" by the server's clock: wait as told, a few times at most

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
      body: new URLSearchParams({ ticket: ticket.content }),
    }).then(function (response) {
      if (response.ok) {
        article.dataset.readReported = "true";
        document.dispatchEvent(new CustomEvent("post:read", { detail: { status: response.status } }));
        return;
      }
      return response.json().then(function (refusal) {
        article.dataset.readRefused = refusal.reason || String(response.status);
        if (refusal.reason === "too-early" && retries > 0) {
          retries -= 1;
          reported = false;
          clearTimeout(timer);
          timer = setTimeout(report, (Number(refusal.retry_after_ms) || 0) + 250);
        }
        // Any other refusal (expired, no cookie...) stands until the page is loaded again.
      });
    }).catch(function () { reported = false; }); // offline: tried again on the next check
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
