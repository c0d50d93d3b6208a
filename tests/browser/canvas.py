"""Read a canvas's pixels in the page, to tell blank from drawn and one drawing from another."""

from __future__ import annotations

from playwright.sync_api import Page

# JS: copy the canvas into a fresh 2D canvas (works for any context type) and summarise its pixels.
_SUMMARY = """(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  if (!copy.width || !copy.height) return {width: copy.width, height: copy.height, drawn: 0, colours: 0, digest: 0};
  const context = copy.getContext('2d');
  context.drawImage(canvas, 0, 0);
  const data = context.getImageData(0, 0, copy.width, copy.height).data;
  let drawn = 0, digest = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] | data[i + 1] | data[i + 2]) !== 0) drawn += 1;
    colours.add(((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4));
    digest = (digest * 31 + data[i] + 3 * data[i + 1] + 7 * data[i + 2] + 11 * data[i + 3]) % 2147483647;
  }
  return {width: copy.width, height: copy.height, drawn: drawn / (data.length / 4), colours: colours.size, digest};
}"""


def canvas_summary(page: Page, selector: str) -> dict:
    """``{width, height, drawn (fraction of non-black opaque pixels), colours (4-bit buckets), digest}``."""
    return page.locator(selector).first.evaluate(_SUMMARY)


def assert_drawn(summary: dict, what: str = "canvas") -> None:
    assert summary["width"] > 0 and summary["height"] > 0, f"{what} has no size: {summary}"
    assert summary["drawn"] > 0.5, f"{what} is mostly blank: {summary}"
    assert summary["colours"] > 16, f"{what} has almost no variation (not an image): {summary}"
