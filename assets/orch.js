// Live updates, for pages that work without them:
// - a running task's log: polls /tasks/{id}/log?from=N and appends what is new (the Tail
//   link reloads);
// - a run's tasks: polls /runs/{run_id}/tasks (JSON) and sets the status, attempt, duration
//   and decision cells in place while a task is not final (the Reload link reloads).
// A poll that answers an error stops the updates and says so on the page.
(function () {
  var EVERY = 1000;

  function stopped(near, id) {
    var p = document.getElementById(id);
    if (!p) {
      p = document.createElement("p");
      p.id = id;
      p.setAttribute("role", "status");
      near.parentNode.insertBefore(p, near.nextSibling);
    }
    p.textContent = "live updates stopped: reload";
  }

  var pre = document.getElementById("log");
  if (pre && pre.dataset.follow) {
    var from = Number(pre.dataset.from || 0);
    var follow = function () {
      fetch(pre.dataset.follow + "?from=" + from).then(function (r) {
        if (!r.ok) {
          stopped(pre, "log-live");
          return false;
        }
        var end = Number(r.headers.get("x-log-end") || from);
        return r.text().then(function (t) {
          if (t) pre.textContent += t;
          from = end;
          return true;
        });
      }).catch(function () { return true; }).then(function (more) {
        if (more) setTimeout(follow, EVERY);
      });
    };
    setTimeout(follow, EVERY);
  }

  var table = document.getElementById("run-tasks");
  if (table && table.dataset.poll) {
    var cells = ["status", "attempt", "worker", "duration", "decision", "note"];
    var update = function (row) {
      var tr = table.querySelector('tr[data-id="' + Number(row.id) + '"]');
      if (!tr) return;
      cells.forEach(function (name) {
        var cell = tr.querySelector('[data-cell="' + name + '"]');
        var text = String(row[name]);
        if (cell && cell.textContent !== text) cell.textContent = text;
        if (cell && name === "note") cell.hidden = text === "";
      });
    };
    var poll = function () {
      fetch(table.dataset.poll, { headers: { accept: "application/json" } }).then(function (r) {
        if (!r.ok) {
          stopped(table.parentNode, "run-live");
          return false;
        }
        return r.json().then(function (body) {
          body.tasks.forEach(update);
          var live = document.getElementById("run-live");
          if (!body.live && live) live.textContent = "Every task is final.";
          return body.live;
        });
      }).catch(function () { return true; }).then(function (more) {
        if (more) setTimeout(poll, EVERY * 2);
      });
    };
    setTimeout(poll, EVERY * 2);
  }
})();
