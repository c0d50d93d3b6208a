# the metrics tutorial's steps: confidence change for a map and for a thresholded (boolean) map, ROAD
import numpy as np
import torch
from torchvision.models import resnet18
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange, DropInConfidence, IncreaseInConfidence
from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst, ROADCombined

torch.manual_seed(0)
model = resnet18().eval()
input_tensor = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(6))
targets = [ClassifierOutputSoftmaxTarget(7), ClassifierOutputSoftmaxTarget(7)]
with GradCAM(model=model, target_layers=[model.layer4]) as cam:
    grayscale_cams = cam(input_tensor=input_tensor, targets=targets)
results = {"cams": grayscale_cams}
cam_metric = CamMultImageConfidenceChange()
results["scores"] = cam_metric(input_tensor, grayscale_cams, targets, model)
thresholded_cam = grayscale_cams < np.percentile(grayscale_cams, 75)
results["thresholded_scores"] = cam_metric(input_tensor, thresholded_cam, targets, model)
results["drop"] = DropInConfidence()(input_tensor, grayscale_cams, targets, model)
results["increase"] = IncreaseInConfidence()(input_tensor, grayscale_cams, targets, model)
# ROAD imputes with random noise (std 0.01) in both libraries: compared loosely
results["noisy road_mrf"] = ROADMostRelevantFirst(percentile=75)(input_tensor, grayscale_cams, targets, model)
results["noisy road_combined"] = ROADCombined(percentiles=[20, 40, 60, 80])(input_tensor, grayscale_cams, targets, model)
