"""WCAG contrast in the page: ``CONTRAST_RATIO`` is JS that defines ``contrastRatio(node)``, the
ratio of a node's text colour to the first opaque background behind it (1 to 21; 4.5 is AA)."""

CONTRAST_RATIO = """
const rgb = (text) => (text.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
const luminance = ([r, g, b]) => {
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
};
const background = (node) => {
  for (; node; node = node.parentElement) {
    const color = rgb(getComputedStyle(node).backgroundColor);
    if (color.length === 3 || (color.length === 4 && color[3] > 0.5)) return color;
  }
  return [255, 255, 255];
};
const contrastRatio = (node) => {
  const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
"""
