// The one ES module of the composed widgets (camwidgets/widgets/parts.py): builds the page from the
// "parts" tree, gives each part its renderer and its own model (partModel), and follows the host's
// theme. The last of the modules assets.py joins; its default export is what anywidget loads.

const RENDERERS = {
  overlay: renderOverlay, spacetime: renderSpaceTime, tree: renderLayerTree, thumbs: renderThumbnails, ...FIELD_RENDERERS,
  box: renderBox, tabs: renderTabs,
};

/** A part's element: its renderer's output in a frame that follows ``visible`` and ``css``. */
function renderPart(model, node, cleanups) {
  const part = partModel(model, node.id);
  const frame = element("div", { class: `cw-part cw-kind-${node.kind}`, "data-part": node.id });
  const syncFrame = () => {
    frame.hidden = part.get("visible") === false;
    frame.className = `cw-part cw-kind-${node.kind} ${part.get("css") || ""}`.trim();
  };
  syncFrame();
  part.on("change:visible", syncFrame);
  part.on("change:css", syncFrame);
  cleanups.push(() => { part.off("change:visible", syncFrame); part.off("change:css", syncFrame); });
  const renderer = RENDERERS[node.kind];
  if (!renderer) {
    frame.append(element("div", { class: "cw-error" }, `this page cannot draw a part of kind ${node.kind}`));
    return frame;
  }
  const done = renderer({ model: part, el: frame, node, cleanups, root: model });
  if (typeof done === "function") cleanups.push(done);
  return frame;
}

function renderBox({ model, el, node, cleanups, root }) {
  const box = element("div", { class: "cw-box" });
  const sync = () => {
    box.className = `cw-box cw-${model.get("direction")}`;
    box.style.gridTemplateColumns = model.get("direction") === "grid" ? model.get("columns") : "";
  };
  sync();
  for (const child of node.children || []) box.append(renderPart(root, child, cleanups));
  el.append(box);
  return listen(model, box, [], [["change:direction", sync], ["change:columns", sync]]);
}

/** Tabs with the ARIA tab pattern: one tab stop, arrow keys and Home/End move between the tabs. */
function renderTabs({ model, el, node, cleanups, root }) {
  const box = element("div", { class: "cw-tabs" });
  const bar = element("div", { class: "cw-tab-bar", role: "tablist" });
  const panels = (node.children || []).map((child) => {
    const panel = element("div", { class: "cw-tab-panel", role: "tabpanel" });
    panel.append(renderPart(root, child, cleanups));
    return panel;
  });
  box.append(bar, ...panels);
  el.append(box);
  const sync = () => {
    const titles = model.get("titles"), chosen = model.get("selected_index");
    bar.replaceChildren(...titles.map((title, index) => control("button", {
      type: "button", role: "tab", class: `cw-tab${index === chosen ? " cw-active" : ""}`, "data-index": String(index),
      "aria-selected": String(index === chosen), tabindex: index === chosen ? "0" : "-1", title,
    }, title)));
    panels.forEach((panel, index) => { panel.hidden = index !== chosen; });
  };
  const choose = (index, focus) => {
    const count = model.get("titles").length;
    if (!count) return;
    const next = (index + count) % count;
    model.set("selected_index", next);
    model.save_changes();
    sync();
    if (focus) bar.querySelector(`[data-index="${next}"]`).focus();
  };
  const onClick = (event) => {
    const tab = event.target.closest("[data-index]");
    if (tab) choose(Number(tab.dataset.index), false);
  };
  const onKey = (event) => {
    const at = model.get("selected_index"), count = model.get("titles").length;
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: count - 1 };
    if (event.key in moves) { event.preventDefault(); choose(moves[event.key], true); }
  };
  sync();
  return listen(model, box, [[bar, "click", onClick], [bar, "keydown", onKey]],
    [["change:titles", sync], ["change:selected_index", sync]]);
}

/** A page drawn from saved widget state (nbconvert's export, as viewers of a notebook see it) has no
 *  kernel to answer: it embeds the state in a script that no live notebook host writes. */
function fromSavedState() {
  return typeof document !== "undefined" && !!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
}

/** Disable every field of the tree (in this page only: nothing is sent) and put the note above it. */
function withoutKernel(model, tree, root) {
  const walk = (node) => {
    if ((node.kind in FIELD_RENDERERS) && model.get(`${node.id}${PART_SEPARATOR}disabled`) === false) {
      model.set(`${node.id}${PART_SEPARATOR}disabled`, true);
    }
    (node.children || []).forEach(walk);
  };
  walk(tree);
  root.prepend(element("p", { class: "cw-no-kernel", role: "note", "data-testid": "cw-no-kernel" }, model.get("without_kernel")));
}

function render({ model, el }) {
  const root = element("div", { class: "cw-app" });
  el.append(root);
  let cleanups = [];
  const build = () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    root.replaceChildren();
    root.setAttribute("data-testid", model.get("testid") || "cw-app");
    const tree = model.get("parts");
    if (tree && tree.id) root.append(renderPart(model, tree, cleanups));
    if (tree && tree.id && fromSavedState()) withoutKernel(model, tree, root);
  };
  const stopTheme = watchTheme(({ theme, source }) => {
    root.dataset.cwTheme = theme;
    root.dataset.cwThemeSource = source;
  });
  model.on("change:parts", build);
  build();
  return () => {
    stopTheme();
    model.off("change:parts", build);
    for (const cleanup of cleanups.splice(0)) cleanup();
    root.remove();
  };
}

export default { render };
