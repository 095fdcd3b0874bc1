"""Writes JPEG digits for the predict tests (run with Debian's /usr/bin/python3, which has Pillow).

The first three MNIST test digits (data/mnist/t10k-images-idx3-ubyte.gz, labels 7, 2, 1), drawn dark on light at
three times the size on a 100x90 canvas, saved as baseline JPEG (quality 85): the kind of file a phone or a paint
program produces. The tests need no Python: the JPEGs are committed.
"""
import gzip
import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))

with gzip.open(os.path.join(ROOT, "data", "mnist", "t10k-images-idx3-ubyte.gz")) as f:
    images = f.read()[16:]
with gzip.open(os.path.join(ROOT, "data", "mnist", "t10k-labels-idx1-ubyte.gz")) as f:
    labels = f.read()[8:]

for i in range(3):
    digit = Image.frombytes("L", (28, 28), images[i * 784:(i + 1) * 784])
    digit = digit.resize((84, 84), Image.NEAREST).point(lambda v: 235 - v * 235 // 255)
    canvas = Image.new("L", (100, 90), 235)
    canvas.paste(digit, (4, 3))
    canvas.convert("RGB").save(os.path.join(HERE, f"mnist-test{i}-label{labels[i]}.jpg"), quality=85)
    print(f"mnist-test{i}-label{labels[i]}.jpg")
