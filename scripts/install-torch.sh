#!/bin/sh
# Install torch into the given Python *before* the package, so that pip never
# resolves a bare `torch` requirement to the multi-GB CUDA build on a machine
# without a GPU. With a working NVIDIA driver the default (CUDA) build is used.
#   usage: scripts/install-torch.sh PYTHON   (TORCH_VERSION overrides the version)
set -eu
PY=${1:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
if "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "install-torch: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "install-torch: NVIDIA GPU found, installing the CUDA build of torch==$TORCH_VERSION"
    exec "$PY" -m pip install "torch==$TORCH_VERSION"
fi
echo "install-torch: no GPU, installing the CPU build of torch==$TORCH_VERSION"
# The +cpu wheel sorts above the CUDA one for `==VERSION`, so pip takes the CPU
# build from PyTorch's CPU index (or from a local wheel folder where one is configured).
exec "$PY" -m pip install "torch==$TORCH_VERSION" --extra-index-url https://download.pytorch.org/whl/cpu
