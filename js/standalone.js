// Pages that need no kernel (camwidgets/render/page.py writes them): the one ES module (base64 text),
// the pictures (one zlib-compressed buffer, base64) and what is in them (JSON). Two kinds:
// * a saved app (cw-app-data): a composed widget's own state on an in-page model, rendered by the
//   notebook's render(); the requests the kernel would answer are answered from the page's table
//   (a gallery click shows that image's map), every other one with the page's note;
// * a report (cw-page-data): the overlay and a gallery of pictures; the overlay's colormap, opacity
//   and mode are applied to the gallery too, with the overlay's own composeView.
// Nothing read from the page is evaluated: the JSON is parsed, texts are set as text by the modules.

/** An in-page model with the part of the anywidget model API the widgets use. `onSend` receives
 *  what the widget sends to its "kernel". */
export function localModel(state, onSend = () => {}) {
  const callbacks = [];
  const model = {
    get: (name) => state[name],
    set: (name, value) => {
      const old = state[name];
      state[name] = value;
      for (const c of callbacks.slice()) if (c.event === `change:${name}`) c.callback.call(c.context, model, value, old);
    },
    save_changes: () => {},
    on: (event, callback, context) => { callbacks.push({ event, callback, context }); },
    off: (event, callback) => {
      for (let i = callbacks.length - 1; i >= 0; i--) {
        if ((!event || callbacks[i].event === event) && (!callback || callbacks[i].callback === callback)) callbacks.splice(i, 1);
      }
    },
    send: (content) => onSend(content),
    /** A message from the "kernel" (msg:custom). */
    emit: (content) => { for (const c of callbacks.slice()) if (c.event === "msg:custom") c.callback.call(c.context, content, []); },
  };
  return model;
}

/** The saved app's answer to ``content`` (a request a part sent): trait changes from ``answers``
 *  (``{part: {type: {key: {trait: value}}}}``, ``{buffer: i}`` for a binary one) and a reply. */
export function answerLocally(model, answers, buffers, note, content) {
  const found = content && ((answers[content.part] || {})[content.type] || {})[content.key];
  if (found) {
    for (const [name, value] of Object.entries(found)) {
      model.set(name, value && typeof value === "object" && "buffer" in value ? buffers[value.buffer] : value);
    }
  }
  model.emit({ type: content.type, id: content.id, part: content.part, ...(found ? { ok: true } : { error: note }) });
}

async function startApp() {
  const data = JSON.parse(document.getElementById("cw-app-data").textContent);
  const bytes = await inflate(document.getElementById("cw-page-bytes").textContent.trim());
  const app = await importModule("cw-module-app");
  const buffers = data.spans.map(([offset, length]) => new DataView(bytes.buffer, bytes.byteOffset + offset, length));
  const state = data.state.state;
  data.state.buffer_paths.forEach(([name], index) => { state[name] = buffers[index]; });
  let model = null;
  model = localModel(state, (content) => setTimeout(() => answerLocally(model, data.answers, buffers, data.note, content)));
  app.default.render({ model, el: document.getElementById("cw-page-app") });
  document.body.dataset.cwReady = "true";
}

/** The RGB bytes of RGBA pixels. */
export function rgbOf(rgba) {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { out[j] = rgba[i]; out[j + 1] = rgba[i + 1]; out[j + 2] = rgba[i + 2]; }
  return out;
}

/** The packed gallery pixels (N * size * size * 3) of `items` drawn with the overlay's settings. */
export function galleryPixels(composeView, items, bytes, table, mode, opacity, size) {
  const out = new Uint8Array(items.length * size * size * 3);
  items.forEach((item, index) => {
    const photo = slice(bytes, item.thumb_photo), levels = slice(bytes, item.thumb_levels);
    out.set(rgbOf(composeView(photo, levels, table, mode, opacity, size, size)), index * size * size * 3);
  });
  return out;
}

const slice = (bytes, [offset, length]) => bytes.subarray(offset, offset + length);

async function inflate(base64) {
  const raw = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function importModule(id) {
  const source = new TextDecoder().decode(Uint8Array.from(atob(document.getElementById(id).textContent.trim()), (c) => c.charCodeAt(0)));
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try { return await import(url); } finally { URL.revokeObjectURL(url); }
}

async function start() {
  const page = JSON.parse(document.getElementById("cw-page-data").textContent);
  const bytes = await inflate(document.getElementById("cw-page-bytes").textContent.trim());
  const app = await importModule("cw-module-app");
  const tables = slice(bytes, page.tables);
  const items = page.items;
  const byKey = new Map(items.map((item) => [item.key, item]));
  const first = byKey.get(page.selected) || items[0];
  const overlay = localModel({
    width: 0, height: 0, photo: new Uint8Array(0), heatmap: new Uint8Array(0), value_range: [0, 1],
    colormap_names: page.colormap_names, colormap_tables: tables, colormap: page.colormap, opacity: page.opacity, mode: page.mode,
    theme: "light", status: "", error: "", busy: false, stale: false, progress: 0, progress_label: "",
  });
  const gallery = localModel({
    testid: "cw-page-gallery", item_testid: "cw-thumbnail", title: page.gallery_title, item_keys: items.map((item) => item.key),
    captions: items.map((item) => item.caption), row_labels: [], column_labels: [], columns: 0, wrap: true,
    size: page.thumb_size, pixels: new Uint8Array(0), selected: "", message: items.length ? "" : "no pictures in this page",
  }, (content) => { if (content && content.type === "pick" && byKey.has(content.key)) show(byKey.get(content.key)); });

  const show = (item) => {
    overlay.set("width", item.width);
    overlay.set("height", item.height);
    overlay.set("photo", slice(bytes, item.photo));
    overlay.set("heatmap", slice(bytes, item.levels));
    overlay.set("value_range", item.value_range);
    overlay.set("status", item.status);
    overlay.set("annotations", item.marks || {});
    gallery.set("selected", item.key);
  };
  const repaint = () => {
    const names = overlay.get("colormap_names");
    const index = Math.max(0, names.indexOf(overlay.get("colormap")));
    const table = tables.subarray(index * 768, index * 768 + 768);
    gallery.set("pixels", galleryPixels(app.composeView, items, bytes, table, overlay.get("mode"), overlay.get("opacity"), page.thumb_size));
  };
  for (const name of ["colormap", "opacity", "mode"]) overlay.on(`change:${name}`, repaint);
  app.renderOverlay({ model: overlay, el: document.getElementById("cw-page-overlay") });
  app.renderThumbnails({ model: gallery, el: document.getElementById("cw-page-thumbnails") });
  repaint();
  if (first) show(first);
  document.body.dataset.cwReady = "true";
}

// (imported without a page, as the tests do under Node, it only defines the functions above)
if (typeof document !== "undefined" && (document.getElementById("cw-page-data") || document.getElementById("cw-app-data"))) {
  (document.getElementById("cw-app-data") ? startApp() : start()).catch((error) => {
    const note = document.getElementById("cw-page-error");
    note.textContent = `This page could not draw its pictures: ${error}`;
    note.hidden = false;
  });
}
