"""Hypothesis profiles for the property-based battery (issue 15).

``battery`` (the default here) runs inside ``make test`` (the whole battery in well under two minutes on one core);
``fuzz`` (``make fuzz``, or ``HYPOTHESIS_PROFILE=fuzz``) runs many more examples per property.
No example database is written into the tree: failures print their reproducing example.
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, database=None, derandomize=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("battery", max_examples=25, **_common)
settings.register_profile("fuzz", max_examples=600, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "battery"))
