// Shared DOM helpers of the widgets' ES modules. assets.py joins the modules in the order of its
// APP_MODULES, this file first, into the one ES module the explorers ship (js/app.js is the last).

/** A new element with attributes and, optionally, its text (always as text, never as markup). */
export function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

/** A focusable control: JupyterLab leaves its keys alone (data-lm-suppress-shortcuts). */
export function control(tag, attributes = {}, text = "") {
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
export function listen(model, root, domListeners, modelListeners) {
  for (const [target, name, handler, options] of domListeners) target.addEventListener(name, handler, options);
  for (const [name, handler] of modelListeners) model.on(name, handler);
  return () => {
    for (const [target, name, handler, options] of domListeners) target.removeEventListener(name, handler, options);
    for (const [name, handler] of modelListeners) model.off(name, handler);
    root.remove();
  };
}

/** The host's theme, "light" or "dark", and who said it: JupyterLab's data-jp-theme-light, VS Code's
 *  body class (vscode-dark, vscode-light, vscode-high-contrast), marimo's data-theme or dark class on
 *  the document, else the browser's prefers-color-scheme. */
export function hostTheme() {
  const body = document.body, root = document.documentElement;
  const lab = body && body.dataset.jpThemeLight;
  if (lab === "true" || lab === "false") return { theme: lab === "true" ? "light" : "dark", source: "jupyterlab" };
  if (body && /\bvscode-(dark|high-contrast)\b/.test(body.className) && !/vscode-high-contrast-light/.test(body.className)) return { theme: "dark", source: "vscode" };
  if (body && /\bvscode-(light|high-contrast-light)\b/.test(body.className)) return { theme: "light", source: "vscode" };
  for (const node of [root, body]) {
    const said = node && (node.dataset.theme || "");
    if (said === "dark" || said === "light") return { theme: said, source: "marimo" };
  }
  if (root && root.classList.contains("dark")) return { theme: "dark", source: "marimo" };
  const dark = typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
  return { theme: dark ? "dark" : "light", source: "prefers-color-scheme" };
}

/** Call ``onChange(hostTheme())`` whenever the host's theme may have changed; returns the stop function. */
export function watchTheme(onChange) {
  const check = () => onChange(hostTheme());
  const observer = new MutationObserver(check);
  for (const node of [document.documentElement, document.body]) {
    if (node) observer.observe(node, { attributes: true, attributeFilter: ["class", "data-theme", "data-jp-theme-light"] });
  }
  const media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  if (media) media.addEventListener("change", check);
  check();
  return () => { observer.disconnect(); if (media) media.removeEventListener("change", check); };
}
