// A strip, a wrapping grid or a labelled grid of small clickable pictures (image gallery, layer sweep, compare grid).
// Pixels arrive as one binary buffer (N * size * size * 3 RGB bytes); a click or Enter sends
// {type: "pick", id, key}; the kernel checks the key and sets `selected`. Uses element, asBytes
// and requests from _dom.js (put in front of this file by assets.py).

/** RGBA pixels of picture `index` out of the packed RGB buffer. */
export function pictureRGBA(pixels, index, size) {
  const count = size * size;
  const out = new Uint8ClampedArray(count * 4);
  const start = index * count * 3;
  for (let i = 0; i < count; i++) {
    out[i * 4] = pixels[start + i * 3];
    out[i * 4 + 1] = pixels[start + i * 3 + 1];
    out[i * 4 + 2] = pixels[start + i * 3 + 2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

export function renderThumbnails({ model, el }) {
  const root = element("div", { class: "cw-thumbs" });
  el.appendChild(root);
  const picks = requests(model, "pick");
  const pick = (key) => picks.send({ key });
  const onClick = (event) => {
    const item = event.target.closest("[data-key]");
    if (item && root.contains(item)) pick(item.dataset.key);
  };
  const onKey = (event) => {
    const item = event.target.closest("[data-key]");
    if (!item) return;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(item.dataset.key); }
    const items = [...root.querySelectorAll("[data-key]")];
    const at = items.indexOf(item);
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step && items[at + step]) { event.preventDefault(); items[at + step].focus(); }
  };

  const draw = () => {
    root.setAttribute("data-testid", model.get("testid"));
    const keys = model.get("item_keys"), captions = model.get("captions"), size = model.get("size");
    const columns = model.get("columns"), rows = model.get("row_labels"), columnLabels = model.get("column_labels");
    const pixels = asBytes(model.get("pixels"));
    const selected = model.get("selected");
    const parts = [];
    if (model.get("title")) parts.push(element("div", { class: "cw-thumbs-title" }, model.get("title")));
    if (model.get("message")) parts.push(element("div", { class: "cw-thumbs-message", role: "status" }, model.get("message")));
    const grid = element("div", { class: columns ? "cw-thumbs-grid" : model.get("wrap") ? "cw-thumbs-wrap" : "cw-thumbs-strip" });
    const labelled = columns && rows.length > 0;
    if (columns) grid.style.gridTemplateColumns = `${labelled ? "auto " : ""}repeat(${columns}, ${size + 8}px)`;
    if (columns && columnLabels.length) {
      if (labelled) grid.append(element("div"));
      for (const name of columnLabels) grid.append(element("div", { class: "cw-thumbs-label" }, name));
    }
    const complete = pixels.length >= keys.length * size * size * 3;
    keys.forEach((key, index) => {
      if (labelled && index % columns === 0) grid.append(element("div", { class: "cw-thumbs-label" }, rows[index / columns] || ""));
      const item = element("div", {
        class: `cw-thumb${key === selected ? " cw-selected" : ""}`,
        role: "button", tabindex: "0", "data-lm-suppress-shortcuts": "true",
        "data-testid": model.get("item_testid"), "data-key": key, "data-path": key,
        "aria-pressed": String(key === selected), title: captions[index] || key,
      });
      const canvas = element("canvas", { width: String(size), height: String(size) });
      if (complete) canvas.getContext("2d").putImageData(new ImageData(pictureRGBA(pixels, index, size), size, size), 0, 0);
      item.append(canvas, element("span", { class: "cw-thumb-caption" }, captions[index] || ""));
      grid.append(item);
    });
    parts.push(grid);
    // redrawing keeps where the strip was scrolled, and brings the selected thumbnail into view
    const previous = root.querySelector(".cw-thumbs-strip, .cw-thumbs-wrap, .cw-thumbs-grid");
    const scroll = previous ? [previous.scrollLeft, previous.scrollTop] : [0, 0];
    root.replaceChildren(...parts);
    [grid.scrollLeft, grid.scrollTop] = scroll;
    const chosen = grid.querySelector(".cw-selected");
    if (chosen && typeof chosen.scrollIntoView === "function") chosen.scrollIntoView({ block: "nearest", inline: "nearest" });
  };

  const traits = ["item_keys", "captions", "pixels", "selected", "size", "columns", "row_labels", "column_labels", "title", "message", "testid", "wrap"];
  const cleanup = listen(model, root, [[root, "click", onClick], [root, "keydown", onKey]], traits.map((name) => [`change:${name}`, draw]));
  draw();
  return cleanup;
}

