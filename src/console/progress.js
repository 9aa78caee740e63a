// enrolld console: follows a running bulk import. Polls the job's status (JSON, same origin,
// the session's cookie) every second and moves the progress bar and its counts; when the job
// has ended, reloads the page once, which then lists every row's result. Without this script
// the page works the same with its "reload" link.
(function () {
  'use strict';
  var bar = document.getElementById('import-progress');
  if (!bar || !bar.getAttribute('data-status')) {
    return;
  }
  var url = bar.getAttribute('data-status');
  var done = document.getElementById('import-done');
  var percent = document.getElementById('import-percent');
  function show(s) {
    bar.max = s.total;
    bar.value = s.done;
    bar.textContent = s.percent + ' %';
    if (done) {
      done.textContent = String(s.done);
    }
    if (percent) {
      percent.textContent = s.percent + ' %';
    }
  }
  function poll() {
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) {
          throw new Error('HTTP ' + r.status);
        }
        return r.json();
      })
      .then(function (s) {
        show(s);
        if (s.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, 500);
})();
