# a new method written the way the reference documents it: subclass BaseCAM, give channel weights
import numpy as np
import torch
from torchvision.models import resnet18
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


class AbsGradCAM(BaseCAM):
    def __init__(self, model, target_layers, reshape_transform=None):
        super(AbsGradCAM, self).__init__(model, target_layers, reshape_transform)

    def get_cam_weights(self, input_tensor, target_layer, target_category, activations, grads):
        return np.mean(np.abs(grads), axis=(2, 3))


torch.manual_seed(0)
model = resnet18().eval()
input_tensor = torch.randn(2, 3, 80, 80, generator=torch.Generator().manual_seed(9))
cam = AbsGradCAM(model=model, target_layers=[model.layer4[-1], model.layer3[-1]])
results = {"absgradcam": cam(input_tensor=input_tensor, targets=[ClassifierOutputTarget(1), ClassifierOutputTarget(2)])}
