"""Render an anywidget ES module in a plain page with a fake model, without Jupyter.

Files are served through Playwright's ``page.route`` from an in-memory table, so the page needs no
server. Before any module loads, ``addEventListener``/``removeEventListener`` are wrapped to keep a
ledger of live listeners, and the fake model (get/set/save_changes/on/off/send) keeps one of its
own callbacks, so a test can check that the cleanup `render` returns removes everything it added."""

from __future__ import annotations

import base64
import json

from playwright.sync_api import Page

ORIGIN = "http://static.test"

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script>
window.ledger = new Map();
const add = EventTarget.prototype.addEventListener, remove = EventTarget.prototype.removeEventListener;
const key = (target, type, listener, options) =>
  [target, type, listener, typeof options === 'boolean' ? options : !!(options && options.capture)];
const find = (k) => [...window.ledger.keys()].find(e => e.every((part, i) => part === k[i]));
EventTarget.prototype.addEventListener = function (type, listener, options) {
  if (listener && !find(key(this, type, listener, options))) window.ledger.set(key(this, type, listener, options), true);
  return add.call(this, type, listener, options);
};
EventTarget.prototype.removeEventListener = function (type, listener, options) {
  const found = find(key(this, type, listener, options));
  if (found) window.ledger.delete(found);
  return remove.call(this, type, listener, options);
};
</script></head><body><div id="host"></div></body></html>"""

# JS: build a fake model from state (buffers as DataViews at their paths), render, report, clean up.
_RENDER = """async ({module, state, buffers, actions, poke, errorSelector, probe}) => {
  const FOCUSABLE = 'input, select, button, textarea, [tabindex], [contenteditable]';
  const decode = (b64) => { const raw = atob(b64); const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i); return new DataView(bytes.buffer); };
  for (const [path, b64] of buffers) {
    let node = state; for (const part of path.slice(0, -1)) node = node[part];
    node[path[path.length - 1]] = decode(b64);
  }
  const callbacks = [], sent = [], saved = [];
  const model = {
    get: (name) => state[name],
    set: (name, value) => { const old = state[name]; state[name] = value;
      for (const c of callbacks.filter(c => c.event === 'change:' + name)) c.callback.call(c.context, model, value, old); },
    save_changes: () => saved.push(Object.keys(state).length),
    on: (event, callback, context) => callbacks.push({event, callback, context}),
    off: (event, callback) => { for (let i = callbacks.length - 1; i >= 0; i--) {
      const c = callbacks[i];
      if ((!event || c.event === event) && (!callback || c.callback === callback)) callbacks.splice(i, 1); } },
    send: (content, cbs, bufs) => sent.push(content),
    widget_manager: { get_model: async () => { throw new Error('no widget manager on the static page'); } },
  };
  const before = window.ledger.size;
  const imported = await import(module);
  const widget = typeof imported.default === 'function' ? await imported.default() : imported.default;
  const el = document.createElement('div');
  document.getElementById('host').append(el);
  const cleanups = [];
  if (widget.initialize) cleanups.push(await widget.initialize({model}));
  cleanups.push(await widget.render({model, el}));
  await new Promise(resolve => setTimeout(resolve, 50));
  const rendered = {elements: el.querySelectorAll('*').length, html: el.innerHTML.slice(0, 400),
    listeners: window.ledger.size - before, model_callbacks: callbacks.length,
    testids: [...el.querySelectorAll('[data-testid]')].map(n => n.dataset.testid),
    unguarded: [...el.querySelectorAll(FOCUSABLE)].filter(n => !n.hasAttribute('data-lm-suppress-shortcuts'))
      .map(n => n.outerHTML.slice(0, 120))};
  const probed = probe ? await (new Function('el', probe))(el) : null;
  if (poke) for (const node of [...el.querySelectorAll(FOCUSABLE)]) {
    for (const key of ['ArrowDown', 'ArrowUp', 'Enter']) node.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
    for (const type of ['input', 'change', 'click']) node.dispatchEvent(new Event(type, {bubbles: true}));
  }
  for (const action of actions) {
    if (action.message) {  // the kernel's reply to a request, as msg:custom delivers it
      for (const c of callbacks.filter(c => c.event === 'msg:custom')) c.callback.call(c.context, action.message, []);
      continue;
    }
    const target = el.querySelector(action.selector);
    if (!target) throw new Error('no element ' + action.selector);
    if (action.value !== undefined) target.value = action.value;
    target.dispatchEvent(new Event(action.event, {bubbles: true}));
  }
  const errors = [...el.querySelectorAll(errorSelector)].map(n => ({hidden: n.hidden, text: n.textContent}));
  for (const cleanup of cleanups.reverse()) if (typeof cleanup === 'function') await cleanup();
  el.remove();
  const leftover = [...window.ledger.keys()].map(([target, type]) =>
    (target.nodeName || target.constructor.name) + ':' + type);
  return {rendered, probed, sent: sent.length, messages: sent, errors, saved: saved.length,
    after: {listeners: window.ledger.size - before, model_callbacks: callbacks.length, leftover}};
}"""


def serve(page: Page, files: dict[str, str]) -> None:
    """Serve ``/index.html`` and ``files`` (path -> JS source) at ``ORIGIN``."""

    def handle(route):
        path = route.request.url[len(ORIGIN) :]
        if path in ("/", "/index.html"):
            return route.fulfill(status=200, content_type="text/html", body=_PAGE)
        if path in files:
            return route.fulfill(status=200, content_type="text/javascript", body=files[path])
        return route.fulfill(status=404, body=f"not served: {path}")

    page.route(f"{ORIGIN}/**", handle)
    page.goto(f"{ORIGIN}/index.html")


def render_widget(
    page: Page,
    module: str,
    state: dict,
    buffers: dict | None = None,
    actions=(),
    poke: bool = False,
    error_selector: str = ".cw-error",
    probe: str = "",
) -> dict:
    """Render the served ``module`` with a fake model of ``state`` (JSON-able) and ``buffers``
    (``{(path...): bytes}``), dispatch ``actions`` (``{selector, event, value?}``, or ``{message}``: a
    reply from the kernel) and, with ``poke``, the ``error_selector`` elements' texts, what the JS function body ``probe(el)`` returns (``probed``),
    keys, input, change and click on every focusable element; then clean up and report."""
    encoded = [[list(path), base64.b64encode(bytes(data)).decode()] for path, data in (buffers or {}).items()]
    return page.evaluate(
        _RENDER,
        {
            "module": f"{ORIGIN}{module}",
            "state": json.loads(json.dumps(state)),
            "buffers": encoded,
            "actions": list(actions),
            "poke": poke,
            "errorSelector": error_selector,
            "probe": probe,
        },
    )
