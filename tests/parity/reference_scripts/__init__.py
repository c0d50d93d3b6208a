"""Scripts written against pytorch-grad-cam 1.5.7's API in the ways its README, ``cam.py``, usage
examples and tutorials use it. They run unchanged with the reference, and after
``python -m camwidgets migrate`` with camwidgets; each leaves what it computed in ``results``."""
