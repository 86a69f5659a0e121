// A machine's console page: the <pre> shows what the machine's console prints (arriving as
// binary WebSocket frames) and sends what is typed there. Text frames are anvil's own words
// ({status}); a console another browser holds offers to take it over. Served from anvil's own
// origin, as the CSP asks.
'use strict';

(() => {
  const view = document.getElementById('console');
  const status = document.getElementById('console-status');
  const takeover = document.getElementById('console-takeover');
  if (!view || !status || !takeover) return;
  const path = view.dataset.consoleSocket;
  const decoder = new TextDecoder();
  /** Most characters kept on screen; older ones are dropped. */
  const MAX_CHARS = 200000;
  const IN_USE = 4409;
  const encoder = new TextEncoder();
  let socket;

  const KEYS = {
    Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b',
    ArrowUp: '\x1b[A', ArrowDown: '\x1b[B', ArrowRight: '\x1b[C', ArrowLeft: '\x1b[D',
    Home: '\x1b[H', End: '\x1b[F', Delete: '\x1b[3~',
  };

  const append = (text) => {
    // Carriage returns before a newline, and the bell, are not for a <pre>.
    const clean = text.replace(/\r\n/g, '\n').replace(/\r/g, '').replace(/\x07/g, '');
    const atEnd = view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
    view.textContent = (view.textContent + clean).slice(-MAX_CHARS);
    if (atEnd) view.scrollTop = view.scrollHeight;
  };

  const connect = (take) => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}${path}${take ? '?takeover=1' : ''}`);
    socket.binaryType = 'arraybuffer';
    takeover.hidden = true;
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string') {
        try {
          status.textContent = JSON.parse(event.data).status;
        } catch {
          // Not one of anvil's messages: nothing to show.
        }
        return;
      }
      append(decoder.decode(event.data, { stream: true }));
    });
    socket.addEventListener('close', (event) => {
      if (event.code === IN_USE) takeover.hidden = false;
      if (event.code === 1006) status.textContent = 'The console could not be opened (signed out, or not an operator?).';
      else if (event.reason && !status.textContent.startsWith(event.reason)) status.textContent = event.reason;
    });
  };

  const send = (text) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(text));
  };
  view.addEventListener('keydown', (event) => {
    if (event.metaKey || event.altKey) return;
    let text;
    if (event.ctrlKey && event.key.length === 1) {
      const code = event.key.toUpperCase().charCodeAt(0);
      if (code >= 64 && code <= 95) text = String.fromCharCode(code - 64);
    } else if (KEYS[event.key]) text = KEYS[event.key];
    else if (event.key.length === 1) text = event.key;
    if (text === undefined) return;
    event.preventDefault();
    send(text);
  });
  view.addEventListener('paste', (event) => {
    event.preventDefault();
    send(event.clipboardData.getData('text'));
  });
  takeover.addEventListener('click', () => connect(true));
  connect(false);
})();
