"""Settings for the ``yiwang worker`` subprocesses of the kill test (tests/core/test_notifications.py).

The project's settings plus one test-only app, :mod:`tests.core.worker_support`,
which slows the in_app and sms channels down and handles the test's events.
Nothing in the product reads this module or the variable it relies on.
"""

from yiwang.settings import *  # noqa: F403
from yiwang.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.core.worker_support.WorkerTestConfig"]
