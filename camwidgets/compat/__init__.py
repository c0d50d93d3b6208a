"""pytorch-grad-cam compatibility, in one place: its module paths inside camwidgets (``dropin``), the
rewriting of its users' scripts and notebooks (``migrate``), its reference-named helpers that the
engine does not need (``projections``: ``get_2d_projection`` and its kernel and sign-corrected
variants, ``ActivationsAndGradients``; ``find_layers``; ``preprocessing``: ``preprocess_image``,
``deprocess_image``, ``scale_cam_image``, ``scale_accross_batch_and_channels``, ``sobel_cam``)."""
