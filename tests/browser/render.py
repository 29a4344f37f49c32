#!/usr/bin/env python3
"""Render an HTML file in headless Chromium over the DevTools protocol.

Usage: render.py CHROMIUM PAGE.html OUT_DIR

Loads the page at a desktop (1280 px) and a phone (390 px) width, saves a
screenshot of each (desktop.png, phone.png: the first 16,000 px), one of each
section at desktop width (section-<id>.png: its first 3,000 px) and a PDF
printed on A4 (print.pdf), and writes report.json with:
  console_errors: console errors, uncaught exceptions and error log entries
  requests: every request the page made other than for the page itself
  figures: [{indicator, period, area, value, text}] of elements carrying data-value
  overflow: whether the phone view scrolls sideways outside .scroll boxes
Needs websocket-client (pip install websocket-client).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def main():
    chromium, page, out = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="startwell-chromium-")
    port_file = os.path.join(profile, "DevToolsActivePort")
    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        report = run(websocket.create_connection(ws_url, timeout=60, suppress_origin=True), page, out)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


class Session:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, event, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == event:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(event)


def run(ws, page, out):
    s = Session(ws)
    for domain in ("Page", "Runtime", "Log", "Network"):
        s.call(f"{domain}.enable")
    url = "file://" + page
    report = {"console_errors": [], "requests": [], "figures": [], "overflow": {}}
    for name, width in (("desktop", 1280), ("phone", 390)):
        s.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=width < 600)
        s.call("Page.navigate", url=url)
        s.wait_for("Page.loadEventFired")
        time.sleep(0.3)
        height = s.call(
            "Runtime.evaluate", expression="document.documentElement.scrollHeight", returnByValue=True
        )["result"]["value"]
        scroll_width = s.call(
            "Runtime.evaluate", expression="document.documentElement.scrollWidth", returnByValue=True
        )["result"]["value"]
        report["overflow"][name] = scroll_width > width
        report.setdefault("scroll_width", {})[name] = scroll_width
        if scroll_width > width:
            report.setdefault("overflowing", {})[name] = json.loads(s.call(
                "Runtime.evaluate",
                expression="""JSON.stringify([...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !(e.parentElement && e.parentElement.closest('.scroll')))
                    .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + (e.id || '') + ': '
                        + e.textContent.trim().slice(0, 60)))""",
                returnByValue=True,
            )["result"]["value"])
        shot = s.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1},
        )
        with open(os.path.join(out, f"{name}.png"), "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        if name == "desktop":
            # Each section on its own (the top 3,000 px of it), to look at closely.
            boxes = json.loads(s.call(
                "Runtime.evaluate",
                expression="""JSON.stringify([...document.querySelectorAll('main > section')].map(e => {
                    const r = e.getBoundingClientRect();
                    return {id: e.id, y: r.top + window.scrollY, h: r.height}; }))""",
                returnByValue=True,
            )["result"]["value"])
            for b in boxes:
                shot = s.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={"x": 0, "y": b["y"], "width": width, "height": min(b["h"], 3000), "scale": 1},
                )
                with open(os.path.join(out, f"section-{b['id']}.png"), "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
    figures = s.call(
        "Runtime.evaluate",
        expression="""JSON.stringify([...document.querySelectorAll('[data-value]')].map(e => ({
            indicator: e.dataset.indicator, period: e.dataset.period, area: e.dataset.area,
            value: e.dataset.value, text: e.textContent.trim()})))""",
        returnByValue=True,
    )["result"]["value"]
    report["figures"] = json.loads(figures)
    pdf = s.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69, printBackground=True)
    with open(os.path.join(out, "print.pdf"), "wb") as f:
        f.write(base64.b64decode(pdf["data"]))
    # Drain what is left, then sort the events.
    ws.settimeout(0.5)
    try:
        while True:
            s.events.append(json.loads(ws.recv()))
    except Exception:
        pass
    for e in s.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            report["console_errors"].append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            report["console_errors"].append(p["exceptionDetails"].get("text", "exception"))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            report["console_errors"].append(p["entry"]["text"])
        elif m == "Network.requestWillBeSent":
            req = p["request"]["url"]
            if req != url:
                report["requests"].append(req)
    return report


if __name__ == "__main__":
    main()
