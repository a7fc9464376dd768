import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# data beside the project (never committed): the YuNet model and the authors' released outputs
SHARED = ROOT.parent / 'shared'
os.environ.setdefault('ELENA_YUNET', str(SHARED / 'models' / 'face_detection_yunet_2023mar.onnx'))
os.environ.setdefault('ELENA_REFERENCE', str(SHARED / 'reference' / 'elena_besst_gemini.json'))
