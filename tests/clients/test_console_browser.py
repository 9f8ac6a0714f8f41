"""The built-in web console (GET / on the admin listener) in a real headless Chromium (Debian's
chromium and chromium-driver, driven by selenium from the test venv: console_driver.py) against a
real `sluice serve` after real produce, consume and commits: the page must show the topic and its
record counts, a chart line for it, its partitions' offsets, a group's lag in records and time, and
in the record browser a record's key, headers and pretty-printed JSON value and a binary value as
base64."""

import base64
import json
import os
import subprocess
import unittest

# The module, not its test class: a class imported by name would run here too.
import test_admin_api
from test_admin_api import BINARY_OFFSET, BINARY_VALUE, COMMITTED, KCAT_RECORDS, P0_RECORDS, TOPIC

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def venv_python():
    out = subprocess.run([os.path.join(ROOT, "scripts", "client-tools.sh"), "python"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise AssertionError("client-tools.sh python failed:\n" + out.stderr)
    return out.stdout.strip()


class ConsoleBrowserTest(test_admin_api.AdminApiTest):
    # Only this class's test: the inherited API tests run in test_admin_api.
    test_api_after_traffic = None
    test_bad_parameters = None
    test_console_files = None

    def test_console_shows_topics_groups_and_records(self):
        for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
            self.assertTrue(os.path.exists(tool), tool + " missing: scripts/install-deps.sh "
                            "installs chromium and chromium-driver")
        python = venv_python()
        self.produce_and_consume()
        offset = 3
        run = subprocess.run(
            [python, os.path.join(HERE, "console_driver.py"),
             "http://127.0.0.1:%d/" % self.server.admin_port, TOPIC, "billing", str(offset),
             str(BINARY_OFFSET)], capture_output=True, text=True, timeout=90)
        self.assertEqual(run.returncode, 0, run.stderr[-4000:])
        page = json.loads(run.stdout.strip().splitlines()[-1])

        self.assertEqual(page["title"], "sluice console")
        self.assertEqual(page["topic_records"], str(P0_RECORDS + KCAT_RECORDS))
        self.assertEqual(page["topic_partitions"], "2")
        self.assertGreaterEqual(page["chart_points"], 2)
        self.assertIn(TOPIC, page["legend"])
        self.assertEqual(page["partition0_end"], str(P0_RECORDS))
        self.assertEqual(page["partition1_end"], str(KCAT_RECORDS))
        self.assertEqual(page["group_state"], "Empty")
        self.assertEqual(page["group_lag_records"], str(P0_RECORDS - COMMITTED))
        # The oldest unconsumed record is from 2024: its age is shown in hours.
        self.assertRegex(page["group_lag_seconds"], r"^\d+\.\d h$")
        self.assertEqual(page["group_committed"], str(COMMITTED))
        self.assertEqual(page["group_partition_lag"], str(P0_RECORDS - COMMITTED))
        self.assertEqual(page["record_offsets"], list(range(offset, offset + 9)))
        self.assertEqual(page["record_key"], "key-%d" % offset)
        # The JSON value pretty-printed (one field per line, indented).
        self.assertEqual(page["record_value"].splitlines(),
                         ["{", '  "order": %d,' % offset, '  "item": "widget-%d"' % offset, "}"])
        self.assertEqual(page["record_headers"].splitlines(), ["source=test", "seq=%d" % offset])
        self.assertEqual(page["binary_value"], base64.b64encode(BINARY_VALUE).decode())
        self.assertTrue(page["status"].startswith("updated"), page["status"])
        self.assertEqual(page["severe_logs"], [])


if __name__ == "__main__":
    unittest.main()
