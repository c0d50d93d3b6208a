import numpy as np
import torch
from torchvision.models import resnet18
from pytorch_grad_cam import GradCAM, HiResCAM, ScoreCAM, GradCAMPlusPlus, AblationCAM, XGradCAM, EigenCAM, FullGrad
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.image import show_cam_on_image

torch.manual_seed(0)
model = resnet18().eval()
target_layers = [model.layer4[-1]]
input_tensor = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
rgb_img = np.float32(np.random.default_rng(0).random((96, 96, 3)))

targets = [ClassifierOutputTarget(281), ClassifierOutputTarget(3)]
results = {}
with GradCAM(model=model, target_layers=target_layers) as cam:
    grayscale_cam = cam(input_tensor=input_tensor, targets=targets)
    grayscale_cam = grayscale_cam[0, :]
    visualization = show_cam_on_image(rgb_img, grayscale_cam, use_rgb=True)
    model_outputs = cam.outputs
results["gradcam"] = grayscale_cam
results["visualization"] = visualization
results["outputs"] = model_outputs.detach().numpy()
for cam_class in (HiResCAM, GradCAMPlusPlus, XGradCAM, EigenCAM):
    with cam_class(model=model, target_layers=target_layers) as cam:
        results[cam_class.__name__] = cam(input_tensor=input_tensor, targets=targets)
