"""leanformer: make fine-tuned Transformer NLU models much cheaper to serve, and prove it."""

import logging

__version__ = "0.1.0"

# Before anything imports transformers (which imports torchao when installed): torch would warn about every Enum
# torchao registers, and torchao about GPU kernels that cannot load on a CPU machine; nothing for users to act
# on, and printed again by every worker process.
for _noisy in ("torch.utils._pytree", "torchao"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)
