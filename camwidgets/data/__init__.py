"""What ships with camwidgets: the bundled photos (``photos/``, read through
:mod:`camwidgets.core.photos`), the synthetic shapes and scenes, and the small models trained on
them with their weights.

>>> from camwidgets.data import photo_names, load_photo
>>> photo_names()
['astronaut', 'chelsea', 'coffee', 'rocket']
"""

from ..core.photos import PHOTOS_DIR, load_photo, photo_names, photo_path

__all__ = ["PHOTOS_DIR", "photo_names", "photo_path", "load_photo"]
