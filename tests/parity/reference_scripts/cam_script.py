# the flow of the reference's cam.py: a method by name, smoothing flags, batch_size, guided backprop
import cv2
import numpy as np
import torch
from torchvision import models
from pytorch_grad_cam import (
    GradCAM, HiResCAM, ScoreCAM, GradCAMPlusPlus, AblationCAM, XGradCAM, EigenCAM, EigenGradCAM, LayerCAM,
    FullGrad, GradCAMElementWise, KPCA_CAM, ShapleyCAM,
)
from pytorch_grad_cam import GuidedBackpropReLUModel
from pytorch_grad_cam.utils.image import show_cam_on_image, deprocess_image, preprocess_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

methods = {
    "gradcam": GradCAM, "hirescam": HiResCAM, "scorecam": ScoreCAM, "gradcam++": GradCAMPlusPlus,
    "ablationcam": AblationCAM, "xgradcam": XGradCAM, "eigencam": EigenCAM, "eigengradcam": EigenGradCAM,
    "layercam": LayerCAM, "gradcamelementwise": GradCAMElementWise, "shapleycam": ShapleyCAM,
}

torch.manual_seed(0)
model = models.resnet18().eval()
target_layers = [model.layer4]
rng = np.random.default_rng(2)
rgb_img = np.float32(rng.random((64, 64, 3)))
input_tensor = preprocess_image(rgb_img, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
targets = None

results = {}
for name, cam_algorithm in methods.items():
    with cam_algorithm(model=model, target_layers=target_layers) as cam:
        cam.batch_size = 32
        grayscale_cam = cam(input_tensor=input_tensor, targets=targets, aug_smooth=False, eigen_smooth=name == "gradcam")
        results[name] = grayscale_cam[0, :]
with GradCAM(model=model, target_layers=target_layers) as cam:
    results["aug_smooth"] = cam(input_tensor=input_tensor, targets=[ClassifierOutputTarget(5)], aug_smooth=True)[0]
cam_image = show_cam_on_image(rgb_img, results["gradcam"], use_rgb=True)
results["cam_image"] = cv2.cvtColor(cam_image, cv2.COLOR_RGB2BGR)
gb_model = GuidedBackpropReLUModel(model=model, device="cpu")
gb = gb_model(input_tensor, target_category=None)
cam_mask = cv2.merge([results["gradcam"], results["gradcam"], results["gradcam"]])
results["cam_gb"] = deprocess_image(cam_mask * gb)
results["gb"] = deprocess_image(gb)
