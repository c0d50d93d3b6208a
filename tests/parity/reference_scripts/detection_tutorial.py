# the Faster R-CNN tutorial's steps: box targets, the FPN reshape, EigenCAM on the backbone,
# maps renormalised inside each box
import numpy as np
import torch
import torchvision
from pytorch_grad_cam import EigenCAM
from pytorch_grad_cam.utils.model_targets import FasterRCNNBoxScoreTarget
from pytorch_grad_cam.utils.reshape_transforms import fasterrcnn_reshape_transform
from pytorch_grad_cam.utils.image import scale_cam_image

torch.manual_seed(0)
model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
    weights=None, weights_backbone=None, num_classes=5, box_score_thresh=0.0, detections_per_img=5
).eval()
input_tensor = torch.rand(1, 3, 160, 160, generator=torch.Generator().manual_seed(4))
with torch.no_grad():
    outputs = model(input_tensor)
boxes = outputs[0]["boxes"].numpy().astype(np.int32)
labels = outputs[0]["labels"].numpy()
targets = [FasterRCNNBoxScoreTarget(labels=labels, bounding_boxes=boxes)]
target_layers = [model.backbone]


def renormalize_cam_in_bounding_boxes(boxes, grayscale_cam):
    renormalized_cam = np.zeros(grayscale_cam.shape, dtype=np.float32)
    for x1, y1, x2, y2 in boxes:
        renormalized_cam[y1:y2, x1:x2] = scale_cam_image(grayscale_cam[y1:y2, x1:x2].copy())
    return scale_cam_image(renormalized_cam)


results = {}
cam = EigenCAM(model, target_layers, reshape_transform=fasterrcnn_reshape_transform)
grayscale_cam = cam(input_tensor, targets=targets)[0, :]
results["eigencam"] = grayscale_cam
# rescaling each row of each box on its own (the reference's scale_cam_image on a 2-D crop) magnifies
# differences of 1e-6 in nearly flat rows: compared to 1e-3
results["amplified renormalized"] = renormalize_cam_in_bounding_boxes(boxes, grayscale_cam)
# (GradCAM on the FPN's dict is one of the cases the reference cannot run: it hooks gradients on tensors only)
