"""Transfer learning: where pretrained backbones come from when nothing may be downloaded."""
