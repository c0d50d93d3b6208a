# the ViT usage example: a timm ViT, a reshape transform with the grid's height and width, norm1 of the last block
import timm
import torch
from pytorch_grad_cam import GradCAM, EigenCAM, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


def reshape_transform(tensor, height=14, width=14):
    result = tensor[:, 1:, :].reshape(tensor.size(0), height, width, tensor.size(2))
    result = result.transpose(2, 3).transpose(1, 2)
    return result


torch.manual_seed(0)
model = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
target_layers = [model.blocks[-1].norm1]
input_tensor = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(8))
results = {}
for cam_class in (GradCAM, EigenCAM):
    cam = cam_class(model=model, target_layers=target_layers, reshape_transform=reshape_transform)
    results[cam_class.__name__] = cam(input_tensor=input_tensor, targets=[ClassifierOutputTarget(3)], eigen_smooth=False)[0, :]
