"""Drives the web console in Debian's headless chromium (through Debian's chromium-driver, with
selenium from the test venv: scripts/client-tools.sh python) and prints, as one JSON line, what the
page shows. Run by test_console_browser.py:

    console_driver.py URL TOPIC GROUP OFFSET BINARY_OFFSET

Every read waits (WebDriverWait) for the element it reads to show the state asked for; nothing
sleeps. The console re-renders its tables and chart every 2 s, so an element found a moment ago can
be gone: every read and click runs inside a wait that retries on StaleElementReferenceException.
The checks themselves are the calling test's."""

import json
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def main():
    url, topic, group, offset, binary_offset = sys.argv[1:6]
    profile = tempfile.mkdtemp(prefix="sluice-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", "--user-data-dir=" + profile]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    out = {}
    try:
        wait = WebDriverWait(driver, 20, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException])
        driver.get(url)
        out["title"] = driver.title

        def cell(selector, column):
            """The text of `column` in the row `selector`, once the row is there and non-empty."""
            def read(d):
                rows = d.find_elements(By.CSS_SELECTOR, selector)
                if not rows:
                    return None
                tds = rows[0].find_elements(By.CSS_SELECTOR, "td." + column)
                return tds[0].text if tds and tds[0].text else None
            return wait.until(read, "no %s in %s" % (column, selector))

        def click(selector):
            """Clicks the element `selector`, finding it again if a re-render replaced it."""
            def attempt(d):
                d.find_element(By.CSS_SELECTOR, selector).click()
                return True
            wait.until(attempt, "cannot click %s" % selector)

        topic_row = 'tr[data-topic="%s"]' % topic
        out["topic_records"] = cell("#topic-table " + topic_row, "records")
        out["topic_partitions"] = cell("#topic-table " + topic_row, "partitions")
        # The chart: a line for the topic whose points show records produced.
        def chart_line(d):
            lines = d.find_elements(By.CSS_SELECTOR,
                                    '#throughput-chart polyline[data-topic="%s"]' % topic)
            if not lines:
                return None
            points = lines[0].get_attribute("points").split()
            return points if len(points) >= 2 else None
        out["chart_points"] = len(wait.until(chart_line, "no chart line"))
        out["legend"] = wait.until(lambda d: d.find_element(By.ID, "chart-legend").text, "no legend")

        # A topic's partitions.
        click("#topic-table " + topic_row)
        out["partition0_end"] = cell('#partition-table tr[data-partition="0"]', "end")
        out["partition1_end"] = cell('#partition-table tr[data-partition="1"]', "end")

        # The group: lag in records and time, then its committed offsets.
        group_row = '#group-table tr[data-group="%s"]' % group
        out["group_lag_records"] = cell(group_row, "lag-records")
        out["group_lag_seconds"] = cell(group_row, "lag-seconds")
        out["group_state"] = cell(group_row, "state")
        click(group_row)
        offset_row = '#offset-table tr[data-topic="%s"][data-partition="0"]' % topic
        out["group_committed"] = cell(offset_row, "committed")
        out["group_partition_lag"] = cell(offset_row, "lag-records")

        # The record browser: partition 0 from an offset.
        def topic_option(d):
            return any(o.get_attribute("value") == topic
                       for o in d.find_elements(By.CSS_SELECTOR, "#rb-topic option"))
        wait.until(topic_option, "no topic in the record browser")
        Select(driver.find_element(By.ID, "rb-topic")).select_by_value(topic)
        part = driver.find_element(By.ID, "rb-partition")
        part.clear()
        part.send_keys("0")
        Select(driver.find_element(By.ID, "rb-mode")).select_by_value("offset")
        driver.find_element(By.ID, "rb-from").send_keys(offset)
        limit = driver.find_element(By.ID, "rb-limit")
        limit.clear()
        limit.send_keys("10")
        driver.find_element(By.ID, "rb-load").click()
        record_row = '#record-table tr[data-offset="%s"]' % offset
        out["record_value"] = cell(record_row, "value")
        out["record_key"] = cell(record_row, "key")
        out["record_headers"] = cell(record_row, "headers")
        out["binary_value"] = cell('#record-table tr[data-offset="%s"]' % binary_offset, "value")
        out["record_offsets"] = wait.until(
            lambda d: [int(tr.get_attribute("data-offset")) for tr in
                       d.find_elements(By.CSS_SELECTOR, "#record-table tbody tr")], "no records")
        out["summary"] = driver.find_element(By.ID, "rb-summary").text
        out["status"] = driver.find_element(By.ID, "status").text
        # JavaScript errors, if any (the console must run clean).
        out["severe_logs"] = [e["message"] for e in driver.get_log("browser")
                              if e.get("level") == "SEVERE"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
