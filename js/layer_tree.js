// Layer picker: the model's modules as a collapsible tree (type and output shape per row).
// Spatial layers are selectable; Ctrl/Cmd/Shift-click or Ctrl+Enter adds to the selection.
// Keys: ArrowUp/Down move, ArrowRight/Left expand/collapse, Home/End, Enter or Space select.
// The kernel checks every path sent with {type: "select", id, paths} and sets `selected`.

/** Rows to show, in tree order: children of expanded nodes; with a filter, every match and its ancestors. */
export function visibleRows(nodes, expanded, filter) {
  const byParent = new Map();
  for (const node of nodes) {
    if (node.path === "") continue;
    if (!byParent.has(node.parent)) byParent.set(node.parent, []);
    byParent.get(node.parent).push(node);
  }
  const query = (filter || "").trim().toLowerCase();
  let keep = null;
  if (query) {
    keep = new Set();
    const byPath = new Map(nodes.map((node) => [node.path, node]));
    for (const node of nodes) {
      if (node.path && (node.path.toLowerCase().includes(query) || node.type.toLowerCase().includes(query))) {
        for (let at = node; at && at.path !== ""; at = byPath.get(at.parent)) keep.add(at.path);
      }
    }
  }
  const rows = [];
  const walk = (parent) => {
    for (const node of byParent.get(parent) || []) {
      if (keep && !keep.has(node.path)) continue;
      rows.push(node);
      if (keep || expanded.has(node.path)) walk(node.path);
    }
  };
  walk("");
  return rows;
}

/** Paths whose rows start expanded: the ancestors of the suggested and selected layers. */
export function initialExpanded(nodes, paths) {
  const byPath = new Map(nodes.map((node) => [node.path, node]));
  const open = new Set();
  for (const path of paths) {
    for (let at = byPath.get(byPath.get(path)?.parent); at && at.path !== ""; at = byPath.get(at.parent)) open.add(at.path);
  }
  return open;
}

export function renderLayerTree({ model, el }) {
  const root = element("div", { class: "cw-layer-tree", "data-testid": "cw-layer-tree" });
  const filter = element("input", {
    type: "search", placeholder: "Filter layers", "aria-label": "Filter layers",
    "data-testid": "cw-layer-filter", "data-lm-suppress-shortcuts": "true",
  });
  const list = element("div", { role: "tree", "aria-multiselectable": "true", class: "cw-tree-rows" });
  const error = element("div", { class: "cw-error", "data-testid": "cw-tree-error", role: "alert" });
  error.hidden = true;
  const note = element("div", { class: "cw-tree-note", "data-testid": "cw-tree-note", "aria-live": "polite" });
  root.append(filter, list, note, error);
  el.appendChild(root);

  let expanded = initialExpanded(model.get("nodes"), [model.get("suggested"), ...model.get("selected")]);
  let focused = model.get("selected")[0] || model.get("suggested");
  const selections = requests(model, "select");

  /** The focused element, seen from the tree (inside a shadow root, as marimo draws widgets, too). */
  const activeElement = () => root.getRootNode().activeElement;
  /** Scroll the list (never the page) so that row ``path`` is in sight. */
  const reveal = (path) => {
    const row = list.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (!row) return;
    const top = row.offsetTop - list.offsetTop, bottom = top + row.offsetHeight;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (bottom > list.scrollTop + list.clientHeight) list.scrollTop = bottom - list.clientHeight;
  };

  const draw = () => {
    const keepFocus = list.contains(activeElement());  // redrawing the rows must not drop the keyboard focus
    const selected = new Set(model.get("selected"));
    const suggested = model.get("suggested");
    const rows = visibleRows(model.get("nodes"), expanded, filter.value);
    if (!rows.some((node) => node.path === focused) && rows.length) focused = rows[0].path;
    list.replaceChildren(...rows.map((node) => {
      const classes = ["cw-layer-row", node.selectable ? "cw-selectable" : "cw-disabled"];
      if (node.path === suggested) classes.push("cw-suggested");
      const row = element("div", { title: node.selectable ? (node.reading || "") : (node.why || ""),
        role: "treeitem", "data-testid": "cw-layer-node", "data-path": node.path,
        "aria-level": String(node.depth), "aria-selected": String(selected.has(node.path)),
        "aria-disabled": String(!node.selectable), tabindex: node.path === focused ? "0" : "-1",
        "data-lm-suppress-shortcuts": "true", class: classes.join(" "),
      });
      row.style.paddingLeft = `${(node.depth - 1) * 14 + 4}px`;
      if (node.children > 0) row.setAttribute("aria-expanded", String(expanded.has(node.path) || !!filter.value.trim()));
      const caret = element("span", { class: "cw-caret" }, node.children > 0 ? (row.getAttribute("aria-expanded") === "true" ? "▾" : "▸") : "");
      const name = element("span", { class: "cw-layer-name" }, node.path.split(".").pop());
      const kind = element("span", { class: "cw-layer-type" }, node.type);
      const shape = element("span", { class: "cw-layer-shape", title: node.reading || "" }, node.shape);
      row.append(caret, name, kind, shape);
      if (node.layout && node.layout !== "NCHW") row.append(element("span", { class: "cw-layout", title: node.reading || "" }, node.layout));
      if (node.path === suggested) row.append(element("span", { class: "cw-badge", title: model.get("reason") || "suggested layer" }, "suggested"));
      return row;
    }));
    if (keepFocus) list.querySelector(`[data-path="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
  };

  const select = (path, add) => {
    const node = model.get("nodes").find((n) => n.path === path);
    note.textContent = node && !node.selectable ? `${node.path || "the model"} cannot be explained: ${node.why}` : "";
    if (!node || !node.selectable) return;
    const current = model.get("selected");
    let paths = [path];
    if (add) paths = current.includes(path) ? current.filter((p) => p !== path) : [...current, path];
    if (paths.length) selections.send({ paths });
  };
  const toggle = (path, open) => {
    if (open === undefined) open = !expanded.has(path);
    expanded = new Set(expanded);
    if (open) expanded.add(path); else expanded.delete(path);
    draw();
  };
  const focusRow = (path) => {
    focused = path;
    draw();
    list.querySelector(`[data-path="${CSS.escape(path)}"]`)?.focus();
  };

  const onClick = (event) => {
    const row = event.target.closest("[data-path]");
    if (!row) return;
    focused = row.dataset.path;
    row.focus({ preventScroll: true });  // after a click the arrow keys move on from this row
    if (event.target.classList.contains("cw-caret")) { toggle(row.dataset.path); return; }
    select(row.dataset.path, event.ctrlKey || event.metaKey || event.shiftKey);
  };
  const onKey = (event) => {
    const rows = visibleRows(model.get("nodes"), expanded, filter.value);
    const at = rows.findIndex((node) => node.path === focused);
    if (at < 0) return;
    const node = rows[at];
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      const next = rows[Math.min(rows.length - 1, Math.max(0, moves[event.key]))];
      focusRow(next.path);
    } else if (event.key === "ArrowRight" && node.children > 0) {
      event.preventDefault();
      if (!expanded.has(node.path)) { toggle(node.path, true); focusRow(node.path); } else if (rows[at + 1]) focusRow(rows[at + 1].path);
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      if (expanded.has(node.path)) { toggle(node.path, false); focusRow(node.path); } else if (node.parent) focusRow(node.parent);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(node.path, event.ctrlKey || event.metaKey || event.shiftKey);
    }
  };
  const onFilter = () => draw();
  const onFilterKey = (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      const first = list.querySelector("[data-path]");
      if (first) focusRow(first.dataset.path);
    }
  };
  const onMessage = (message) => {
    if (!selections.isCurrent(message)) return;  // a late reply to an older selection changes nothing
    error.textContent = message.error || "";
    error.hidden = !message.error;
  };
  const onSelected = () => {
    expanded = new Set([...expanded, ...initialExpanded(model.get("nodes"), model.get("selected"))]);
    draw();
    if (!list.contains(activeElement())) reveal(model.get("selected")[0]);  // chosen elsewhere (the sweep, Python)
  };

  const domListeners = [[list, "click", onClick], [list, "keydown", onKey], [filter, "input", onFilter], [filter, "keydown", onFilterKey]];
  const modelListeners = [["msg:custom", onMessage], ["change:selected", onSelected], ["change:nodes", draw], ["change:suggested", draw]];
  const cleanup = listen(model, root, domListeners, modelListeners);
  draw();
  // the chosen (or suggested) layer in sight whenever the tree's box changes size (a notebook lays the
  // output out, and loads the style sheet, after it renders), until the person scrolls or clicks in it
  let touched = false;
  const onTouched = () => { touched = true; };
  const onSized = () => {
    if (!touched && list.clientHeight > 0) reveal(model.get("selected")[0] || model.get("suggested"));
  };
  const sized = typeof ResizeObserver === "function" ? new ResizeObserver(onSized) : null;
  if (sized) sized.observe(list); else requestAnimationFrame(onSized);
  const touches = ["wheel", "pointerdown", "keydown"].map((name) => [list, name, onTouched]);
  for (const [target, name, handler] of touches) target.addEventListener(name, handler);
  return () => {
    if (sized) sized.disconnect();
    for (const [target, name, handler] of touches) target.removeEventListener(name, handler);
    cleanup();
  };
}

