"""`python -m scaler_wizard.server.hardware_probe WORKSPACE`: the hardware profile as JSON.

The service runs this in a child process, because probing CUDA imports torch, which the
service itself never does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scaler_wizard.hardware.probe import probe_hardware

if __name__ == "__main__":
    sys.stdout.write(probe_hardware(Path(sys.argv[1])).model_dump_json() + "\n")
