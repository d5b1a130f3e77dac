"""One-off: write the five notebooks as short stubs from the template (used once, kept for new notebooks)."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from notebook_template import ROOT, new_notebook  # noqa: E402

STUBS = [
    ("01_loss_functions.ipynb", "01 · Loss functions for object detection", "torch",
     ["cross-entropy (binary, multi-class) from information theory and maximum likelihood",
      "MSE (L2), MAE (L1), RMSE, smooth L1/Huber, and why detectors regress boxes with smooth L1",
      "focal loss, computed correctly, and what it does on a 1:1000 imbalanced problem"]),
    ("02_iou_nms_map.ipynb", "02 · IoU, anchors, NMS and mAP", "torch",
     ["IoU and box encodings", "anchors and SSD default boxes", "NMS and soft-NMS",
      "precision/recall, AP the VOC07, VOC12 and COCO ways, COCO mAP@[.5:.95]"]),
    ("03_rcnn_to_retinanet.ipynb", "03 · From Viola-Jones and R-CNN to RetinaNet", "torch",
     ["the detector family tree, each idea run and measured", "RoI pooling, RPN anchors, SSD, YOLO, FPN",
      "accuracy vs latency of real architectures"]),
    ("04_tfhub_ssd_vs_faster_rcnn.ipynb", "04 · TF-Hub SSD-MobileNetV2 vs Faster R-CNN: measured properly", "tensorflow",
     ["cold vs warm latency, throughput, peak memory", "why single-call timings and %memit increments mislead"]),
    ("05_batman_detector.ipynb", "05 · Build a Batman detector", "torch",
     ["generate and read a Pascal VOC dataset", "fine-tune a torchvision detector", "evaluate, inspect failures, export to ONNX"]),
]

for name, title, fw, learn in STUBS:
    path = ROOT / "notebooks" / name
    if path.exists():
        continue
    nb = new_notebook(name, title, learn, cpu_time="under a minute", gpu_time="under a minute", framework=fw)
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "**Status:** this notebook is a stub that states its plan; its issue fills it in."))
    nb.cells.append(nbformat.v4.new_code_cell("plan = " + repr([item for item in learn]) + "\nfor step in plan:\n    print('-', step)"))
    nbformat.write(nb, path)
    print("wrote", path)
