# the semantic segmentation tutorial's steps: a wrapper returning out, a mask target, GradCAM
import numpy as np
import torch
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget


class SegmentationModelOutputWrapper(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


torch.manual_seed(0)
model = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=4, aux_loss=False)
model = SegmentationModelOutputWrapper(model.eval())
input_tensor = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(5))
output = model(input_tensor)
normalized_masks = torch.nn.functional.softmax(output, dim=1).cpu()
category = 2
mask = normalized_masks[0, :, :, :].argmax(axis=0).detach().cpu().numpy()
mask_float = np.float32(mask == category)
if mask_float.sum() == 0:
    mask_float[:48] = 1.0
target_layers = [model.model.backbone["16"]]
targets = [SemanticSegmentationTarget(category, mask_float)]
results = {}
with GradCAM(model=model, target_layers=target_layers) as cam:
    results["gradcam"] = cam(input_tensor=input_tensor, targets=targets)[0, :]
