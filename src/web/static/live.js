// anvil's live pages: follows GET /events and puts what changed in place, without a reload.
// The fleet page replaces a machine's row with the one the server rendered; a machine page sets
// its power and provision state at once and re-reads itself for the rest (boot log, runs,
// deploy progress), swapping only the parts marked data-live. Its forms answer in place too:
// they are posted with fetch and the page that answers gives the message and the new state.
// On the fleet page it also ticks every row of the page for the bulk form, keeps a ticked box
// ticked when its row is replaced, and re-reads the summary strip after changes.
// Served from anvil's own origin: the pages' CSP allows no inline script and no other origin.
'use strict';

(() => {
  // The fleet's "select every machine on this page" box (it needs a script, so it starts hidden).
  const all = document.getElementById('select-page');
  const picks = () => document.querySelectorAll('[data-live="fleet"] input.pick');
  const counted = document.querySelector('[data-selected]');
  const recount = () => {
    const boxes = [...picks()];
    const ticked = boxes.filter((b) => b.checked).length;
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    if (counted) counted.textContent = ticked > 0 ? `(${ticked} ticked)` : '(none ticked)';
  };
  if (all) {
    all.hidden = false;
    all.addEventListener('change', () => {
      for (const b of picks()) b.checked = all.checked;
      recount();
    });
    document.addEventListener('change', (event) => {
      if (event.target instanceof HTMLInputElement && event.target.classList.contains('pick')) recount();
    });
    recount();
  }

  const body = document.body;
  const page = body.dataset.livePage;
  if (!page || typeof EventSource !== 'function') return;
  const machine = body.dataset.liveMachine;

  const status = document.createElement('span');
  status.className = 'live-status';
  status.setAttribute('role', 'status');
  status.dataset.liveStatus = '';
  // Beside who is signed in: the header's right end.
  const signout = document.querySelector('header.top .signout');
  if (signout) signout.prepend(status);
  else document.querySelector('header.top')?.append(status);
  const say = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
    body.dataset.liveState = state;
  };

  const flashEl = document.querySelector('[data-flash]');
  const flash = (text, bad) => {
    if (!flashEl) return;
    flashEl.textContent = text;
    flashEl.hidden = text === '';
    flashEl.classList.toggle('bad', Boolean(bad));
  };

  const mark = (el) => {
    el.classList.remove('changed');
    // Restart the highlight even when the same element changes twice in a row.
    void el.offsetWidth;
    el.classList.add('changed');
  };

  /** Replaces each data-live part of this page with the same part of `doc`. */
  const swap = (doc) => {
    const focused = document.activeElement;
    for (const part of document.querySelectorAll('[data-live]')) {
      if (page === 'fleet' && part.dataset.live === 'fleet') {
        // Row by row, so ticked boxes stay ticked; only the rows this page shows.
        for (const row of doc.querySelectorAll('[data-live="fleet"] tr[data-machine]')) placeRow(part, row);
        continue;
      }
      // Never pull a choice away from under the operator making it.
      if (focused && focused !== document.body && focused.tagName !== 'BUTTON' && part.contains(focused)) continue;
      const fresh = doc.querySelector(`[data-live="${part.dataset.live}"]`);
      if (fresh && fresh.innerHTML !== part.innerHTML) {
        const said = part.textContent;
        part.innerHTML = fresh.innerHTML;
        // Highlight only what reads differently, not a refreshed attribute.
        if (part.textContent !== said) mark(part);
      }
    }
  };

  let reading;
  let again = false;
  /** Re-reads this page and swaps its live parts; changes that arrive meanwhile cause one more read. */
  const reread = async () => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        const response = await fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { accept: 'text/html' } });
        if (response.redirected && new URL(response.url).pathname === '/login') {
          say('off', 'signed out');
          return;
        }
        if (!response.ok) return;
        swap(new DOMParser().parseFromString(await response.text(), 'text/html'));
      } while (again);
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  const setField = (root, field, text) => {
    const el = root.querySelector(`[data-field="${field}"]`);
    if (el && el.textContent !== text) {
      el.textContent = text;
      mark(el);
    }
  };

  /** Puts a fresh row in place of the one for the same machine; a machine this page does not show stays off it. */
  function placeRow(rows, row) {
    const old = rows.querySelector(`tr[data-machine="${CSS.escape(row.dataset.machine)}"]`);
    if (!old) return;
    // This page's checkbox stays, ticked or not: the fresh row's (if any) is dropped.
    const pick = old.querySelector('input.pick');
    row.querySelector('input.pick')?.remove();
    const bare = old.cloneNode(true);
    bare.querySelector('input.pick')?.remove();
    if (bare.outerHTML === row.outerHTML) return;
    if (pick) row.querySelector('td.name')?.prepend(pick);
    old.replaceWith(row);
    mark(row);
  }

  let summaryTimer;
  /** The summary strip counts the whole fleet: re-read it once changes have settled. */
  const resummarize = () => {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(() => void reread(), 1000);
  };

  const onFleet = (update) => {
    const rows = document.querySelector('[data-live="fleet"]');
    if (!rows) return;
    const holder = document.createElement('tbody');
    holder.innerHTML = update.row;
    const row = holder.firstElementChild;
    if (row) placeRow(rows, row);
    resummarize();
  };

  const onMachine = (update) => {
    if (update.name !== machine) return;
    const facts = document.querySelector('[data-live="facts"]');
    if (facts) {
      setField(facts, 'power', update.power);
      const provision = facts.querySelector('[data-field="provision"]');
      // The state leads its cell ("deployed · image x"): change it in place, the rest comes with the re-read.
      if (provision && !provision.textContent.startsWith(update.provision)) {
        provision.textContent = update.provision;
        mark(provision);
      }
    }
    void reread();
  };

  const connect = () => {
    const source = new EventSource(machine ? `/events?machine=${encodeURIComponent(machine)}` : '/events');
    let dropped = false;
    source.addEventListener('open', () => {
      say('on', 'live');
      // Whatever changed while the stream was down.
      if (dropped) void reread();
    });
    source.addEventListener('error', () => {
      dropped = true;
      say('off', source.readyState === EventSource.CLOSED ? 'not live: reload the page' : 'reconnecting…');
    });
    source.addEventListener('machine', (event) => {
      const update = JSON.parse(event.data);
      if (page === 'fleet') onFleet(update);
      else onMachine(update);
    });
  };

  /** A form on a machine page: posted in the background, answered by the page it leads to. */
  const submit = async (form, submitter) => {
    const data = new FormData(form, submitter);
    const buttons = form.querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    flash(`${submitter?.textContent?.trim() || 'Sending'}…`);
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams(data),
        credentials: 'same-origin',
        headers: { accept: 'text/html' },
      });
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      if (!response.ok) {
        flash(doc.querySelector('main')?.textContent?.trim().replace(/\s+/g, ' ') || `failed (HTTP ${response.status})`, true);
        return;
      }
      if (new URL(response.url).pathname !== location.pathname) {
        location.assign(response.url);
        return;
      }
      flash(doc.querySelector('[data-flash]')?.textContent ?? '');
      swap(doc);
    } catch (error) {
      flash(`could not reach anvil: ${error.message}`, true);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };

  if (page === 'machine') {
    // On the document: the provision form is inside a live part and is replaced with it.
    document.addEventListener('submit', (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.closest('main') || !form.action.includes('/machines/')) return;
      event.preventDefault();
      void submit(form, event.submitter);
    });
  }

  say('off', 'connecting…');
  connect();
})();
