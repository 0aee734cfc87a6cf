// Follows a running task's log: polls /tasks/{id}/log?from=N and appends what is new.
// The page works without it (the Tail link reloads).
(function () {
  var pre = document.getElementById("log");
  if (!pre || !pre.dataset.follow) return;
  var from = Number(pre.dataset.from || 0);
  function poll() {
    fetch(pre.dataset.follow + "?from=" + from).then(function (r) {
      var end = Number(r.headers.get("x-log-end") || from);
      return r.text().then(function (t) {
        if (t) pre.textContent += t;
        from = end;
      });
    }).catch(function () {}).then(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
