// Overlay view: photo, heatmap and blend on a canvas. Colormap, opacity and mode are applied here,
// with no kernel round trip: the kernel sends the photo and the 8-bit map once, as binary buffers.
// Uses element, control and asBytes from _dom.js (put in front of this file by assets.py).
// View formula (same as camwidgets.widgets.colormaps.compose_view):
//   heatmap: lut[m]; overlay: round((1 - opacity) * photo + opacity * lut[m]); photo: photo.

/** RGBA pixels (Uint8ClampedArray, width*height*4) of the view. */
export function composeView(photo, levels, table, mode, opacity, width, height) {
  const count = width * height;
  const out = new Uint8ClampedArray(count * 4);
  const a = Math.min(1, Math.max(0, Number(opacity) || 0));
  for (let i = 0; i < count; i++) {
    const m = levels.length === count ? levels[i] * 3 : 0;
    for (let c = 0; c < 3; c++) {
      const p = photo.length === count * 3 ? photo[i * 3 + c] : 0;
      const h = table.length >= 768 ? table[m + c] : 0;
      out[i * 4 + c] = mode === "photo" ? p : mode === "heatmap" ? h : Math.round((1 - a) * p + a * h);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Map value under grey level `level`, given the trait value_range [low, high]. */
export function levelToValue(level, range) {
  const [low, high] = range && range.length === 2 ? range : [0, 1];
  return low + (level / 255) * (high - low);
}

export const MAX_ZOOM = 16;

/** The view {zoom, x, y} (CSS pixels; the picture drawn at `zoom` times its size, its top left at
 *  x, y) moved so that it covers the viewport of `width` x `height`: x in [width - width * zoom, 0]. */
export function clampView(view, width, height) {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, Number(view.zoom) || 1));
  const clamp = (value, size) => Math.min(0, Math.max(size - size * zoom, Number(value) || 0));
  return { zoom, x: clamp(view.x, width), y: clamp(view.y, height) };
}

/** `view` zoomed by `factor` about the viewport point (px, py), which stays under the pointer. */
export function zoomAbout(view, factor, px, py, width, height) {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
  const k = zoom / view.zoom;
  return clampView({ zoom, x: px - (px - view.x) * k, y: py - (py - view.y) * k }, width, height);
}

/** The rectangle [x1, y1, x2, y2] (whole pixels, x1 < x2) spanned by two points of a drag, clamped
 *  to the `width` x `height` image; null when it is under 2 pixels either way (a click, not a drag). */
export function dragRectangle(a, b, width, height) {
  const clamp = (v, size) => Math.min(size, Math.max(0, Math.round(v)));
  const x1 = clamp(Math.min(a.x, b.x), width), x2 = clamp(Math.max(a.x, b.x), width);
  const y1 = clamp(Math.min(a.y, b.y), height), y2 = clamp(Math.max(a.y, b.y), height);
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : null;
}

/** "x1,y1 x2,y2 ..." of a flat [x1, y1, x2, y2, ...] list, for an SVG polygon. */
export function polygonPoints(flat) {
  const pairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push(`${Number(flat[i])},${Number(flat[i + 1])}`);
  return pairs.join(" ");
}

const SVG = "http://www.w3.org/2000/svg";
const svgElement = (tag, attributes = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
};

const MODES = [["overlay", "Overlay"], ["heatmap", "Heatmap"], ["photo", "Photo"]];

/** Where each box's label goes (image pixels, ``font`` high, about 0.6 ``font`` per character): above
 *  the box, else inside it from the top, else below it (up to four lines each way), at the first place
 *  no earlier label covers; chosen boxes first, then larger ones. A label with no free place is not
 *  drawn (its box's tooltip names it). */
export function placeLabels(boxes, font, width, height) {
  const area = (item) => (item.box[2] - item.box[0]) * (item.box[3] - item.box[1]);
  const order = [...boxes].sort((a, b) => (b.chosen ? 1 : 0) - (a.chosen ? 1 : 0) || area(b) - area(a));
  const taken = [], placed = new Map();
  const overlaps = (r) => taken.some((t) => r[0] < t[2] && t[0] < r[2] && r[1] < t[3] && t[1] < r[3]);
  for (const item of order) {
    const [x1, y1, , y2] = item.box;
    const w = Math.max(font, String(item.label).length * font * 0.6);
    const x = Math.max(0, Math.min(x1, width - w));
    const lines = [0, 1, 2, 3].map((k) => k * (font + 1));
    const candidates = [
      ...lines.map((d) => y1 - 2 - d), ...lines.map((d) => y1 + font + 1 + d).filter((y) => y <= y2),
      ...lines.map((d) => y2 + font + 1 + d),
    ].filter((y) => y - font >= 0 && y <= height);
    const y = candidates.find((base) => !overlaps([x, base - font, x + w, base]));
    if (y === undefined) continue;
    taken.push([x, y - font, x + w, y]);
    placed.set(item.index, { x, y });
  }
  return placed;
}

export function renderOverlay({ model, el }) {
  const root = element("div", { class: "cw-overlay", "data-testid": "cw-overlay" });
  const toolbar = element("div", { class: "cw-toolbar" });
  const modeButtons = MODES.map(([mode, label]) =>
    control("button", { type: "button", class: "cw-mode", "data-testid": `cw-mode-${mode}`, "data-mode": mode }, label));
  const colormap = control("select", { "data-testid": "cw-colormap", "aria-label": "Colormap" });
  const opacity = control("input", { type: "range", min: "0", max: "1", step: "0.05", "data-testid": "cw-opacity", "aria-label": "Opacity" });
  const opacityValue = element("span", { class: "cw-opacity-value", "data-testid": "cw-opacity-value" });
  const opacityLabel = element("label", { class: "cw-opacity-label" }, "Opacity ");
  opacityLabel.append(opacity, opacityValue);
  const canvas = element("canvas", { class: "cw-canvas", "data-testid": "cw-overlay-canvas" });
  // zoom (wheel) and pan (drag) move the canvas inside a viewport that clips it; double-click resets
  const viewport = element("div", { class: "cw-viewport", "data-testid": "cw-viewport", title: "Wheel to zoom, drag to pan, double-click to reset" });
  // boxes, outlines and the dragged rectangle, in image pixels over the canvas (moved with it when zoomed)
  const stage = element("div", { class: "cw-stage" });
  const marks = svgElement("svg", { class: "cw-marks", "data-testid": "cw-marks", preserveAspectRatio: "none" });
  stage.append(canvas, marks);
  const clearRegion = control("button", { type: "button", class: "cw-clear-region", "data-testid": "cw-clear-region" }, "Clear rectangle");
  const zoomLabel = element("span", { class: "cw-zoom", "data-testid": "cw-zoom" });
  const zoomReset = control("button", { type: "button", class: "cw-zoom-reset", "data-testid": "cw-zoom-reset" }, "Reset zoom");
  const zoomBox = element("div", { class: "cw-zoom-box" });  // over the map's corner: zooming moves nothing on the page
  zoomBox.append(zoomLabel, zoomReset);
  // errors and progress over the top of the map: when they come and go, nothing on the page moves
  const notices = element("div", { class: "cw-notices" });
  viewport.append(stage, notices, zoomBox);
  const colorbar = element("div", { class: "cw-colorbar", "data-testid": "cw-colorbar" });
  const barCanvas = element("canvas", { class: "cw-colorbar-strip", width: "256", height: "1", "aria-hidden": "true" });
  const low = element("span", { class: "cw-colorbar-low", "data-testid": "cw-colorbar-low" });
  const high = element("span", { class: "cw-colorbar-high", "data-testid": "cw-colorbar-high" });
  colorbar.append(low, barCanvas, high);
  const readout = element("div", { class: "cw-readout", "data-testid": "cw-readout" });
  const status = element("div", { class: "cw-status", "data-testid": "cw-status", role: "status" });
  const banner = element("div", { class: "cw-error-banner", "data-testid": "cw-error-banner" });
  const error = element("div", { class: "cw-error", "data-testid": "cw-error", role: "alert" });
  const dismiss = control("button", { type: "button", class: "cw-dismiss", "data-testid": "cw-dismiss", "aria-label": "Dismiss the message" }, "×");
  banner.append(error, dismiss);
  let dismissed = "";  // the error text the user closed: hidden until another one comes
  const progress = element("div", { class: "cw-progress", "data-testid": "cw-progress" });
  const bar = element("progress", { max: "1", value: "0" });
  const label = element("span", { class: "cw-progress-label" });
  const cancel = control("button", { type: "button", "data-testid": "cw-cancel" }, "Cancel");
  progress.append(bar, label, cancel);
  toolbar.append(...modeButtons, colormap, opacityLabel, clearRegion);
  // errors and progress at the top of the map, where they are seen; the old map dims while a new one is computed
  notices.append(banner, progress);
  root.append(toolbar, viewport, colorbar, readout, status);
  el.appendChild(root);

  let image = null;
  const draw = () => {
    const width = model.get("width"), height = model.get("height");
    if (!width || !height) return;
    const names = model.get("colormap_names");
    const index = Math.max(0, names.indexOf(model.get("colormap")));
    const table = asBytes(model.get("colormap_tables")).subarray(index * 768, index * 768 + 768);
    const pixels = composeView(asBytes(model.get("photo")), asBytes(model.get("heatmap")), table,
      model.get("mode"), model.get("opacity"), width, height);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    image = new ImageData(pixels, width, height);
    canvas.getContext("2d").putImageData(image, 0, 0);
    drawColorbar(table);
  };
  const annotations = () => model.get("annotations") || {};
  let dragged = null;  // the rectangle being dragged, [x1, y1, x2, y2], drawn until the kernel answers
  const drawMarks = () => {
    const width = model.get("width"), height = model.get("height");
    const marked = annotations();
    marks.setAttribute("viewBox", `0 0 ${width || 1} ${height || 1}`);
    const nodes = [];
    // labels keep about 11 screen pixels whatever the zoom and the drawn size
    const shownScale = (canvas.clientWidth / (width || 1)) * view.zoom;
    const font = shownScale > 0 ? 11 / shownScale : Math.max(6, (width || 224) / 24);
    const labels = placeLabels(marked.boxes || [], font, width || 1, height || 1);
    for (const outline of marked.outlines || []) {
      nodes.push(svgElement("polygon", { class: "cw-outline", "data-testid": "cw-outline", points: polygonPoints(outline) }));
    }
    // larger boxes first: a box inside another stays on top, clickable
    const area = (item) => (item.box[2] - item.box[0]) * (item.box[3] - item.box[1]);
    for (const item of [...(marked.boxes || [])].sort((a, b) => area(b) - area(a))) {
      const [x1, y1, x2, y2] = item.box;
      const group = svgElement("g", { class: item.chosen ? "cw-detection cw-chosen" : "cw-detection" });
      const rect = svgElement("rect", { class: "cw-box", "data-testid": "cw-box", "data-index": item.index, x: x1, y: y1, width: x2 - x1, height: y2 - y1 });
      const title = svgElement("title");
      title.textContent = `${item.label}: click to explain this detection`;
      rect.append(title);
      group.append(rect);
      const place = labels.get(item.index);
      if (place) {
        const text = svgElement("text", { class: "cw-box-label", x: place.x + 1, y: place.y, "font-size": font });
        text.textContent = item.label;  // text, never markup
        group.append(text);
      }
      nodes.push(group);
    }
    const region = dragged || marked.region;
    if (region) {
      const [x1, y1, x2, y2] = region;
      nodes.push(svgElement("rect", { class: dragged ? "cw-region cw-dragging" : "cw-region", "data-testid": "cw-region", x: x1, y: y1, width: x2 - x1, height: y2 - y1 }));
    }
    marks.replaceChildren(...nodes);
    clearRegion.hidden = !marked.region;
    clearRegion.classList.toggle("cw-reserved", marked.draw === "region");  // its place kept where a rectangle can come
    canvas.classList.toggle("cw-draws", marked.draw === "region");
    viewport.title = marked.draw === "region" ? "Drag on the image to draw a rectangle; wheel to zoom, double-click to reset"
      : (marked.boxes || []).length ? "Click a box to explain it; wheel to zoom, drag to pan, double-click to reset"
      : "Wheel to zoom, drag to pan, double-click to reset";
  };
  const drawColorbar = (table) => {
    colorbar.hidden = model.get("mode") === "photo";
    const strip = new Uint8ClampedArray(256 * 4);
    for (let level = 0; level < 256; level++) {
      for (let c = 0; c < 3; c++) strip[level * 4 + c] = table.length >= 768 ? table[level * 3 + c] : level;
      strip[level * 4 + 3] = 255;
    }
    barCanvas.getContext("2d").putImageData(new ImageData(strip, 256, 1), 0, 0);
    const range = model.get("value_range");
    low.textContent = levelToValue(0, range).toPrecision(3);
    high.textContent = levelToValue(255, range).toPrecision(3);
  };
  const syncControls = () => {
    const names = model.get("colormap_names");
    if (colormap.options.length !== names.length) {
      colormap.replaceChildren(...names.map((name) => { const o = element("option", { value: name }, name); return o; }));
    }
    colormap.value = model.get("colormap");
    opacity.value = String(model.get("opacity"));
    opacityValue.textContent = Number(model.get("opacity")).toFixed(2);
    for (const button of modeButtons) {
      const active = button.dataset.mode === model.get("mode");
      button.classList.toggle("cw-active", active);
      button.setAttribute("aria-pressed", String(active));
    }
  };
  const syncText = () => {
    status.textContent = model.get("status");
    error.textContent = model.get("error");
    banner.hidden = !model.get("error") || model.get("error") === dismissed;
    error.hidden = banner.hidden;
    // the row stays after the run when it has something to say ("ScoreCAM cancelled; ..."), without bar and button
    progress.hidden = !model.get("busy") && !model.get("progress_label");
    bar.hidden = cancel.hidden = !model.get("busy");
    canvas.classList.toggle("cw-stale", !!model.get("stale"));
    bar.value = model.get("progress");
    label.textContent = model.get("progress_label");
  };
  const setTrait = (name, value) => { model.set(name, value); model.save_changes(); };
  const onMode = (event) => setTrait("mode", event.currentTarget.dataset.mode);
  const onColormap = () => setTrait("colormap", colormap.value);
  const onOpacity = () => setTrait("opacity", Number(opacity.value));
  const onCancel = () => model.send({ type: "cancel", id: Date.now() });
  const onDismiss = () => { dismissed = model.get("error"); syncText(); };
  /** The pointer's position in image pixels (fractional, not clamped), or null before a picture. */
  const imagePoint = (event) => {
    const width = model.get("width"), height = model.get("height");
    const box = canvas.getBoundingClientRect();
    if (!width || !box.width) return null;
    return { x: ((event.clientX - box.left) / box.width) * width, y: ((event.clientY - box.top) / box.height) * height };
  };
  const onMove = (event) => {
    const width = model.get("width"), height = model.get("height");
    const point = imagePoint(event);
    if (!point) return;
    const x = Math.min(width - 1, Math.max(0, Math.floor(point.x)));
    const y = Math.min(height - 1, Math.max(0, Math.floor(point.y)));
    const levels = asBytes(model.get("heatmap"));
    if (levels.length !== width * height) return;
    const value = levelToValue(levels[y * width + x], model.get("value_range"));
    readout.textContent = `x ${x}, y ${y}: ${value.toPrecision(3)}`;
  };
  const onLeave = () => { readout.textContent = ""; };

  let view = { zoom: 1, x: 0, y: 0 };
  let drag = null;  // {x, y, view} where a pan started
  let sketch = null;  // {start} in image pixels where a rectangle drag started
  const applyView = (next) => {
    const box = viewport.getBoundingClientRect();
    view = clampView(next, box.width, box.height);
    stage.style.transform = view.zoom === 1 ? "" : `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
    canvas.classList.toggle("cw-zoomed", view.zoom > 1);
    zoomLabel.textContent = view.zoom > 1 ? `${view.zoom.toFixed(1)}×` : "";
    zoomBox.hidden = view.zoom === 1;
    drawMarks();  // labels keep their screen size
  };
  const onWheel = (event) => {
    const zoomingOut = event.deltaY > 0;
    if (zoomingOut && view.zoom === 1) return;  // nothing to zoom out of: the notebook scrolls as usual
    event.preventDefault();
    const box = viewport.getBoundingClientRect();
    applyView(zoomAbout(view, zoomingOut ? 1 / 1.25 : 1.25, event.clientX - box.left, event.clientY - box.top, box.width, box.height));
    onMove(event);
  };
  const onDown = (event) => {
    if (event.button !== 0) return;
    if (view.zoom === 1 && annotations().draw === "region") {  // unzoomed, a drag draws a rectangle
      const start = imagePoint(event);
      if (start) { event.preventDefault(); sketch = { start }; }
      return;
    }
    if (view.zoom === 1) return;
    event.preventDefault();
    drag = { x: event.clientX, y: event.clientY, view };
    canvas.classList.add("cw-panning");
  };
  const onDrag = (event) => {
    if (sketch) {
      const point = imagePoint(event);
      if (point) { dragged = dragRectangle(sketch.start, point, model.get("width"), model.get("height")); drawMarks(); }
      return;
    }
    if (!drag) return;
    applyView({ zoom: drag.view.zoom, x: drag.view.x + event.clientX - drag.x, y: drag.view.y + event.clientY - drag.y });
  };
  const onUp = (event) => {
    if (sketch) {
      const point = imagePoint(event);
      const rectangle = point ? dragRectangle(sketch.start, point, model.get("width"), model.get("height")) : null;
      sketch = null;
      if (rectangle) { dragged = rectangle; model.send({ type: "region", id: Date.now(), box: rectangle }); }
      else { dragged = null; }
      drawMarks();
    }
    drag = null;
    canvas.classList.remove("cw-panning");
  };
  const onClearRegion = () => model.send({ type: "region", id: Date.now(), box: null });
  const onMarkClick = (event) => {
    const rect = event.target.closest ? event.target.closest("[data-index]") : null;
    if (rect) model.send({ type: "pick_box", id: Date.now(), index: Number(rect.dataset.index) });
  };
  const onMarksChanged = () => { dragged = null; drawMarks(); };
  const onReset = () => applyView({ zoom: 1, x: 0, y: 0 });

  const redraw = () => { syncControls(); draw(); drawMarks(); };
  const domListeners = [
    ...modeButtons.map((button) => [button, "click", onMode]),
    [colormap, "change", onColormap], [opacity, "input", onOpacity], [cancel, "click", onCancel], [dismiss, "click", onDismiss],
    [canvas, "mousemove", onMove], [canvas, "mouseleave", onLeave],
    [viewport, "wheel", onWheel, { passive: false }], [canvas, "mousedown", onDown], [window, "mousemove", onDrag], [window, "mouseup", onUp],
    [canvas, "dblclick", onReset], [zoomReset, "click", onReset],
    [marks, "click", onMarkClick], [clearRegion, "click", onClearRegion],
  ];
  const modelListeners = [
    ...["photo", "heatmap", "colormap", "opacity", "mode", "width", "height", "value_range"].map((name) => [`change:${name}`, redraw]),
    ...["status", "error", "busy", "stale", "progress", "progress_label"].map((name) => [`change:${name}`, syncText]),
    ["change:annotations", onMarksChanged], ["msg:custom", (content) => { if (content && content.type === "region" && content.error) onMarksChanged(); }],
  ];
  const cleanup = listen(model, root, domListeners, modelListeners);
  // the host's theme, for the charts the kernel draws
  const stopTheme = watchTheme(({ theme }) => { if (model.get("theme") !== theme) setTrait("theme", theme); });
  // the labels' size follows the drawn size of the map (a narrower notebook, a stacked layout)
  const resized = typeof ResizeObserver === "function" ? new ResizeObserver(() => drawMarks()) : null;
  if (resized) resized.observe(canvas);
  redraw();
  syncText();
  applyView(view);
  return () => { if (resized) resized.disconnect(); stopTheme(); cleanup(); };
}

