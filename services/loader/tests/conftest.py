import sys
from pathlib import Path

# Tests import their event factories as a plain module (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).parent))
