"""The analytics stand alone: importing them loads no Django."""

import subprocess
import sys


def test_importing_the_analytics_loads_no_django():
    check = "import sys, fangyi.analytics; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0
