#!/usr/bin/env python3
"""The console (/console) in headless Chromium (scripts/test-browser.sh).

  tests/browser/console_test.py BASE_URL ADMIN_KEY SCREENSHOT_DIR

Walks every page against a running aisle-server and checks what a person
would: a wrong key refused; the overview's figures and charts drawn from the
server's own counters; the models page listing every published version
with its gate metric plotted, and a roll-back that the API confirms; the
experiment report's differences charted with their intervals; a customer
looked up and erased through the confirmation, the API then holding nothing
of them; no error in the browser's console. Saves a screenshot per page.
"""
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, KEY, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def api(path, method="GET", body=None):
    req = urllib.request.Request(BASE + path, method=method, headers={"X-API-Key": KEY, "Content-Type": "application/json"},
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


options = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
    options.add_argument(a)
options.binary_location = "/usr/bin/chromium"
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException])


def chart_points(canvas_id):
    return driver.execute_script(
        "const c = window.Chart && Chart.getChart(arguments[0]);"
        "return c ? c.data.datasets.map(d => d.data.filter(v => v !== null && v !== undefined).length) : null;", canvas_id)


def shot(name):
    time.sleep(0.3)
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


try:
    # A wrong key is refused, and the page asks again.
    driver.get(BASE + "/console")
    wait.until(EC.visibility_of_element_located((By.ID, "keyform")))
    driver.find_element(By.ID, "key").send_keys("not-the-key-0123456789")
    driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
    wait.until(lambda d: d.find_element(By.ID, "loginerror").text != "")
    check("not allowed" in driver.find_element(By.ID, "loginerror").text, "a wrong key is refused: " +
          driver.find_element(By.ID, "loginerror").text)
    check(driver.find_element(By.ID, "login").is_displayed(), "the key form stays")
    shot("login-refused")

    # The right key: the overview from the server's counters.
    driver.find_element(By.ID, "key").send_keys(KEY)
    driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
    model = api("/v1/model")
    wait.until(lambda d: d.find_element(By.ID, "ov-model").text == model["model_version"])
    check(True, "the overview names the serving model " + model["model_version"])
    for _ in range(3):  # some traffic for the rates
        urllib.request.urlopen(BASE + "/v1/customers/c1/recommendations").read()
    wait.until(lambda d: (chart_points("chart-rps") or [0])[0] >= 2)
    rps = driver.find_element(By.ID, "ov-rps").text
    check(float(rps) >= 0, "requests/s shown: " + rps)
    check(chart_points("chart-rps")[0] >= 2, "the requests chart is drawn from %d scrapes" % chart_points("chart-rps")[0])
    check("/" in driver.find_element(By.ID, "ov-latency").text, "latency p50/p99: " + driver.find_element(By.ID, "ov-latency").text)
    check(driver.find_element(By.ID, "ov-data").text.count("to") == 1, "data range: " + driver.find_element(By.ID, "ov-data").text)
    shot("overview")

    # Models: every version, the gate metric plotted, a roll-back.
    driver.get(BASE + "/console#models")
    wait.until(EC.presence_of_element_located((By.ID, "versions")))
    listed = api("/v1/admin/models")
    rows = driver.find_elements(By.CSS_SELECTOR, "#versions tr[data-version]")
    check(len(rows) == len(listed["versions"]) == 3, "%d versions listed" % len(rows))
    points = chart_points("chart-models")
    check(points is not None and points[0] == sum(1 for v in listed["versions"] if v.get("gate")),
          "gate metric plotted for the gated versions: %s" % points)
    shot("models")
    buttons = driver.find_elements(By.CSS_SELECTOR, "button.rollback")
    check(len(buttons) == 2, "roll-back buttons for the two other versions")
    target = min(v["version"] for v in listed["versions"] if not v["current"])
    driver.find_element(By.CSS_SELECTOR, '#versions tr[data-version="%d"] button' % target).click()
    driver.switch_to.alert.accept()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#versions tr.serving[data-version="%d"]' % target))
    after = api("/v1/admin/models")
    check(after["current_version"] == target, "the API says version %d is current" % target)
    check(api("/v1/model")["model_version"] == [v for v in after["versions"] if v["version"] == target][0]["model_id"],
          "and it serves")
    api("/v1/admin/rollback", "POST", {"version": max(v["version"] for v in after["versions"])})

    # Experiments: the report's differences with intervals.
    driver.get(BASE + "/console#experiments")
    wait.until(EC.presence_of_element_located((By.ID, "srm-0")))
    report = api("/v1/admin/experiments")["report"]
    points = chart_points("chart-0-conversion")
    check(points == [len(report["experiments"][0]["variants"]) - 1], "conversion difference charted: %s" % points)
    intervals = driver.execute_script("return Chart.getChart('chart-0-conversion').data.datasets[0].intervals")
    b = [v for v in report["experiments"][0]["variants"] if v["name"] != report["experiments"][0]["control"]][0]
    check(abs(intervals[0][0] - b["conversion"]["ci_low"]) < 1e-9, "its interval is the report's")
    mismatch = report["experiments"][0]["sample_ratio"]["mismatch"]
    check(("srm" in driver.find_element(By.ID, "srm-0").get_attribute("class")) == mismatch,
          "the sample-ratio check shown as the report says (mismatch: %s)" % mismatch)
    shot("experiments")

    # Customer: looked up, then erased through the confirmation.
    driver.get(BASE + "/console#customer?id=c17")
    wait.until(EC.presence_of_element_located((By.ID, "cu-recs")))
    held = len(api("/v1/customers/c17/data")["live_events"])
    check(held >= 2 and driver.find_element(By.ID, "cu-live").text == str(held), "their %d live events shown" % held)
    check(len(driver.find_elements(By.CSS_SELECTOR, "#cu-recs tr")) > 1, "recommendations shown")
    shot("customer")
    driver.find_element(By.ID, "erase").click()
    driver.switch_to.alert.send_keys("someone-else")
    driver.switch_to.alert.accept()
    wait.until(lambda d: "Not erased" in d.find_element(By.ID, "erase-result").text)
    check(api("/v1/customers/c17/data")["live_events"] != [], "a mistyped confirmation erases nothing")
    driver.find_element(By.ID, "erase").click()
    driver.switch_to.alert.send_keys("c17")
    driver.switch_to.alert.accept()
    wait.until(lambda d: "Erased" in d.find_element(By.ID, "erase-result").text)
    check(api("/v1/customers/c17/data")["live_events"] == [], "erased: the API holds no live event of theirs")
    wait.until(lambda d: d.find_element(By.ID, "cu-live").text == "0")
    check(driver.find_element(By.ID, "cu-live").text == "0", "and the page says so")
    shot("customer-erased")

    # Nothing went wrong in the page.
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "/v1/admin/models" not in e["message"]]
    check(not errors, "no error in the browser's console: %s" % errors)
finally:
    driver.quit()

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
