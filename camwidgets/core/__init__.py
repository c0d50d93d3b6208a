"""The bottom layer: what every part of camwidgets uses and which imports nothing else of it. The
image pipeline (files, bundled photos, decoding, geometry, normalisation, image sets for the
explorer and the dataset runner), class names, colour maps and the overlay blend, pictures, files
written whole or not at all, the front end's file locations and text for people."""

__version__ = "0.1.0"
