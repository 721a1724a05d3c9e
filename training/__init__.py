"""Training of the copy-detection descriptor (PyTorch; never imported at run time).

The registry runs the exported ONNX model with onnxruntime
(workers/engine/descriptor.py); this package builds the data set
(training/dataset.py), defines the network (model.py) and its augmentations
(augment.py), trains it (train.py) and exports it (export.py). See
training/MODEL_CARD.md.
"""
