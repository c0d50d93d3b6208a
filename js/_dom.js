// Shared DOM helpers of the widgets' ES modules. assets.py puts this file in front of each module
// (js/overlay.js, js/layer_tree.js, js/thumbnails.js), so each module ships as one ES module.

/** A new element with attributes and, optionally, its text (always as text, never as markup). */
function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

/** A focusable control: JupyterLab leaves its keys alone (data-lm-suppress-shortcuts). */
function control(tag, attributes = {}, text = "") {
  return element(tag, { ...attributes, "data-lm-suppress-shortcuts": "true" }, text);
}

/** Bytes from a synced Bytes trait (DataView, ArrayBuffer or typed array) as a Uint8Array. */
export function asBytes(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(0);
}

/** Requests sent with increasing ids; a reply counts only if it answers the latest request, so a
 *  late reply to an older request can never overwrite what a newer one showed. */
export function requests(model, type) {
  let latest = 0;
  return {
    send: (content) => model.send({ type, id: ++latest, ...content }),
    isCurrent: (message) => !!message && message.type === type && message.id === latest,
  };
}

/** Attach the listeners ([target, event, handler, options?] on DOM nodes, [event, handler] on the
 *  model) and return render()'s cleanup: it detaches every one of them and removes ``root``. */
function listen(model, root, domListeners, modelListeners) {
  for (const [target, name, handler, options] of domListeners) target.addEventListener(name, handler, options);
  for (const [name, handler] of modelListeners) model.on(name, handler);
  return () => {
    for (const [target, name, handler, options] of domListeners) target.removeEventListener(name, handler, options);
    for (const [name, handler] of modelListeners) model.off(name, handler);
    root.remove();
  };
}
